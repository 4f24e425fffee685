// dst[i] = op(x[i]); OP is a define (codes in unary.ts). Storage in Elem, math in f32.
// Functions whose WGSL builtins are loose or missing (tanh, sin, cos, erf) are written out
// here so that every driver gives the same accuracy.

struct Params {
  count: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

fn sigmoid(v: f32) -> f32 {
  // exp of a non-positive argument only: no overflow for either sign.
  let e = exp(-abs(v));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, v >= 0.0);
}

fn tanhOf(v: f32) -> f32 {
  let a = abs(v);
  var t: f32;
  if (a < 0.125) {
    // Odd Taylor series; (1 - e) / (1 + e) below would cancel. Next term 62/2835 a^9 < 3e-10.
    let a2 = a * a;
    t = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0))));
  } else {
    let e = exp(-2.0 * a);
    t = (1.0 - e) / (1.0 + e);
  }
  return select(-t, t, v >= 0.0);
}

// erf in f32 with absolute error ~1e-7 (9e-8 measured, 1.5 ulps of 1) on all of R. Both
// pieces are Chebyshev interpolants computed in 40-digit arithmetic, converted to powers of a
// variable on [-1, 1] and rounded to f32 (tests/gpu/elementwise.test.ts measures the result):
// |x| < 1:      erf(x) = x P(2x^2 - 1), P of degree 7 interpolating erf(x) / x;
// 1 <= |x| < 4: erf(x) = 1 - exp(-x^2) R((|x| - 2.5) / 1.5), R of degree 12 interpolating
//               erfc(x) exp(x^2), which is smooth and bounded where erfc itself is not;
// |x| >= 4:     erfc(4) = 1.5e-8 is below half an ulp of 1.
fn erfOf(v: f32) -> f32 {
  let a = abs(v);
  if (a < 1.0) {
    let u = 2.0 * a * a - 1.0;
    var s = -7.552377923e-08;
    s = s * u + 1.231639544e-06;
    s = s * u - 1.753691504e-05;
    s = s * u + 2.175119880e-04;
    s = s * u - 2.285485622e-03;
    s = s * u + 1.985249855e-02;
    s = s * u - 1.405360848e-01;
    s = s * u + 9.654687643e-01;
    return v * s;
  }
  var r = 0.0;
  if (a < 4.0) {
    let t = (a - 2.5) / 1.5;
    r = 1.336583591e-05;
    r = r * t - 3.688891229e-05;
    r = r * t + 5.630357555e-05;
    r = r * t - 1.440577907e-04;
    r = r * t + 4.129869340e-04;
    r = r * t - 1.017008908e-03;
    r = r * t + 2.402487444e-03;
    r = r * t - 5.567380227e-03;
    r = r * t + 1.248952001e-02;
    r = r * t - 2.700571716e-02;
    r = r * t + 5.611048639e-02;
    r = r * t - 1.115210056e-01;
    r = r * t + 2.108063698e-01;
    r = r * exp(-a * a);
  }
  return select(r - 1.0, 1.0 - r, v >= 0.0);
}

// sin and cos by hand: WGSL only promises 2^-11 absolute error for the builtins, and
// SwiftShader's are that coarse (2e-4). Cody-Waite reduction by pi/2 = 1.5703125 (exact times
// any k < 2^15, so |x| < 5e4) + 4.838267923e-4 + 2.563282919e-12 leaves r in [-pi/4, pi/4]
// and the quadrant k mod 4; Taylor series there stop below 2e-9.
fn sinPoly(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0))));
}

fn cosPoly(r: f32) -> f32 {
  let z = r * r;
  return 1.0 + z * (-0.5 + z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0 + z * (-1.0 / 3628800.0)))));
}

// sin(v + quarter * pi/2): quarter 0 gives sin, 1 gives cos.
fn sinShifted(v: f32, quarter: i32) -> f32 {
  let k = round(v * 0.6366197723675814);
  let r = ((v - k * 1.5703125) - k * 4.838267923333e-4) - k * 2.563282919255e-12;
  let q = (i32(k) + quarter) & 3;
  let s = select(cosPoly(r), sinPoly(r), (q & 1) == 0);
  return select(s, -s, q >= 2);
}

fn apply(v: f32) -> f32 {
  if (OP == 0u) { return -v; }
  if (OP == 1u) { return exp(v); }
  if (OP == 2u) { return log(v); }
  if (OP == 3u) { return sqrt(v); }
  if (OP == 4u) { return inverseSqrt(v); }
  if (OP == 5u) { return abs(v); }
  if (OP == 6u) { return sigmoid(v); }
  if (OP == 7u) { return tanhOf(v); }
  if (OP == 8u) { return erfOf(v); }
  if (OP == 9u) { return sinShifted(v, 0); }
  if (OP == 10u) { return sinShifted(v, 1); }
  if (OP == 11u) { return 0.5 * v * (1.0 + erfOf(v * 0.7071067811865476)); }
  if (OP == 12u) { return v * sigmoid(v); }
  if (OP == 13u) { return max(v, 0.0); }
  if (OP == 14u) { return 1.0 / v; }
  return v * p.alpha + p.beta;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.count) { return; }
  dst[i] = Elem(apply(f32(x[i])));
}
