// dst[i] = a[ia] OP b[ib] under numpy broadcasting; OP is a define (codes in binary.ts).
// Storage in Elem, arithmetic in f32.

@group(0) @binding(0) var<storage, read> a: array<Elem>;
@group(0) @binding(1) var<storage, read> b: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(3) var<uniform> p: BroadcastParams;

// WGSL's pow is only defined for a positive base; ONNX Pow is real for any base when the
// exponent is integral (x^2, x^3 appear in exported LayerNorm and tanh-GELU graphs).
fn power(x: f32, y: f32) -> f32 {
  if (y == 2.0) { return x * x; }
  if (y == 1.0) { return x; }
  if (y == 0.0) { return 1.0; }
  if (y == 0.5) { return sqrt(x); }
  if (x == 0.0) { return select(1.0 / abs(x), 0.0, y > 0.0); }
  if (x < 0.0 && y == floor(y)) {
    let magnitude = pow(-x, y);
    let odd = y * 0.5 != floor(y * 0.5);
    return select(magnitude, -magnitude, odd);
  }
  return pow(x, y);
}

fn apply(x: f32, y: f32) -> f32 {
  if (OP == 0u) { return x + y; }
  if (OP == 1u) { return x - y; }
  if (OP == 2u) { return x * y; }
  if (OP == 3u) { return x / y; }
  if (OP == 4u) { return power(x, y); }
  if (OP == 5u) { return max(x, y); }
  return min(x, y);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.count) { return; }
  let offsets = broadcastOffsets(i);
  dst[i] = Elem(apply(f32(a[offsets.x]), f32(b[offsets.y])));
}
