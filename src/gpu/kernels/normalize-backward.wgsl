// Backward of normalize.wgsl (LayerNorm, InstanceNorm, GroupNorm), one 64-wide workgroup per
// row. Recomputes the row's mean and 1/std exactly as the forward does (shifted by x[row, 0]),
// then with g = dy * gamma and xhat = (x - mean) / std:
//   dx = (g - mean(g) - xhat * mean(g * xhat)) / std,
// and writes dy * xhat (whose sums over rows give dgamma; dbeta is the sum of dy).

struct Params {
  rows: u32,
  n: u32,
  paramRows: u32,
  paramDiv: u32,
  epsilon: f32,
  hasGamma: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read> gamma: array<Elem>;
@group(0) @binding(2) var<storage, read> dy: array<Elem>;
@group(0) @binding(3) var<storage, read_write> dx: array<Elem>;
@group(0) @binding(4) var<storage, read_write> dyXhat: array<Elem>;
@group(0) @binding(5) var<uniform> p: Params;

const WG = 64u;
var<workgroup> partial: array<vec2f, WG>;

fn workgroupSum(value: vec2f, lane: u32) -> vec2f {
  partial[lane] = value;
  workgroupBarrier();
  if (lane < WG / 8u) {
    let at = lane * 8u;
    var s = partial[at];
    for (var k = 1u; k < 8u; k++) { s += partial[at + k]; }
    partial[at] = s;
  }
  workgroupBarrier();
  var total = vec2f(0.0);
  for (var k = 0u; k < WG; k += 8u) { total += partial[k]; }
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.n;
  let shift = f32(x[base]);
  let count = f32(p.n);

  var sum = 0.0;
  for (var j = lane; j < p.n; j += WG) { sum += f32(x[base + j]) - shift; }
  let mean = workgroupSum(vec2f(sum, 0.0), lane).x / count;
  var squares = 0.0;
  for (var j = lane; j < p.n; j += WG) {
    let c = (f32(x[base + j]) - shift) - mean;
    squares += c * c;
  }
  let scale = 1.0 / sqrt(workgroupSum(vec2f(squares, 0.0), lane).x / count + p.epsilon);

  let paramBase = (row % p.paramRows) * p.n;
  var sums = vec2f(0.0);
  for (var j = lane; j < p.n; j += WG) {
    let xhat = ((f32(x[base + j]) - shift) - mean) * scale;
    var g = f32(dy[base + j]);
    if (p.hasGamma == 1u) { g *= f32(gamma[(paramBase + j) / p.paramDiv]); }
    sums += vec2f(g, g * xhat);
  }
  let means = workgroupSum(sums, lane) / count;
  for (var j = lane; j < p.n; j += WG) {
    let xhat = ((f32(x[base + j]) - shift) - mean) * scale;
    let d = f32(dy[base + j]);
    var g = d;
    if (p.hasGamma == 1u) { g *= f32(gamma[(paramBase + j) / p.paramDiv]); }
    dx[base + j] = Elem((g - means.x - xhat * means.y) * scale);
    dyXhat[base + j] = Elem(d * xhat);
  }
}
