// Normalizes contiguous rows of n elements to zero mean and unit (biased) variance, then
// applies optional per-element gamma / beta; one 64-wide workgroup per row.
// Accuracy for rows with a large mean (activations ~100 with spread ~0.01): every pass works
// on d = x - x[row, 0], which f32 subtracts exactly for nearby values, so neither the mean
// nor the centred values ever carry the rounding of a number near 100. Variance is a second
// pass over (d - mean(d))^2, never E[x^2] - E[x]^2.

struct Params {
  rows: u32,
  n: u32,
  paramRows: u32,
  paramDiv: u32,
  epsilon: f32,
  hasGamma: u32,
  hasBeta: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read> gamma: array<Elem>;
@group(0) @binding(2) var<storage, read> beta: array<Elem>;
@group(0) @binding(3) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(4) var<uniform> p: Params;

const WG = 64u;
var<workgroup> partial: array<f32, WG>;

// Two levels of eight rather than a log2 tree: barriers are what software adapters pay for.
fn workgroupSum(value: f32, lane: u32) -> f32 {
  partial[lane] = value;
  workgroupBarrier();
  if (lane < WG / 8u) {
    let at = lane * 8u;
    partial[at] = ((partial[at] + partial[at + 1u]) + (partial[at + 2u] + partial[at + 3u])) + ((partial[at + 4u] + partial[at + 5u]) + (partial[at + 6u] + partial[at + 7u]));
  }
  workgroupBarrier();
  var total = 0.0;
  for (var k = 0u; k < WG; k += 8u) { total += partial[k]; }
  // Everyone has read the partials before the next call overwrites them.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  // Uniform across the workgroup (derived from its id).
  if (row >= p.rows) { return; }
  let base = row * p.n;
  let shift = f32(x[base]);
  let count = f32(p.n);

  var sum = 0.0;
  for (var j = lane; j < p.n; j += WG) { sum += f32(x[base + j]) - shift; }
  let mean = workgroupSum(sum, lane) / count;

  var squares = 0.0;
  for (var j = lane; j < p.n; j += WG) {
    let c = (f32(x[base + j]) - shift) - mean;
    squares += c * c;
  }
  let scale = 1.0 / sqrt(workgroupSum(squares, lane) / count + p.epsilon);

  let paramBase = (row % p.paramRows) * p.n;
  for (var j = lane; j < p.n; j += WG) {
    var v = ((f32(x[base + j]) - shift) - mean) * scale;
    let k = (paramBase + j) / p.paramDiv;
    if (p.hasGamma == 1u) { v *= f32(gamma[k]); }
    if (p.hasBeta == 1u) { v += f32(beta[k]); }
    dst[base + j] = Elem(v);
  }
}
