// Global-norm clipping coefficient from per-tensor sums of squares (one invocation):
// coef[0] = min(1, maxNorm / (norm + 1e-6)) with norm = sqrt(sum of partials); coef[1] = norm.
// maxNorm <= 0 disables clipping (coef[0] = 1) but still reports the norm.

struct Params {
  count: u32,
  maxNorm: f32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> coef: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var i = 0u; i < p.count; i++) { total += partials[i]; }
  let norm = sqrt(total);
  var c = 1.0;
  if (p.maxNorm > 0.0) { c = min(1.0, p.maxNorm / (norm + 1e-6)); }
  coef[0] = c;
  coef[1] = norm;
}
