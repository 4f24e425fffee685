// Softmax of x viewed as [outer, n, inner] along n. Defines: WG, PER_THREAD (as reduce.wgsl).
// One pass keeps a running (max m, sum s of exp(x - m)), rescaling s when m grows; partial
// pairs merge as m = max(m1, m2), s = s1 exp(m1 - m) + s2 exp(m2 - m). A second pass writes
// exp(x - m) / s. Never exponentiates a positive number, so it cannot overflow.

struct Params {
  outer: u32,
  n: u32,
  inner: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> partial: array<vec2f, WG>;

// Largest finite f32 as the empty maximum (constant expressions may not be infinite); a row
// of -inf (fully masked) still yields 0 / 0 = NaN, as in torch.
const LOWEST = -0x1.fffffep+127f;

// Folds one element into a running (max, sum) pair.
fn accumulate(state: vec2f, v: f32) -> vec2f {
  if (v > state.x) { return vec2f(v, state.y * exp(state.x - v) + 1.0); }
  return vec2f(state.x, state.y + exp(v - state.x));
}

fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

fn perThread(row: u32) {
  if (row >= p.outer * p.inner) { return; }
  let base = (row / p.inner) * p.n * p.inner + row % p.inner;
  var state = vec2f(LOWEST, 0.0);
  for (var j = 0u; j < p.n; j++) {
    state = accumulate(state, f32(x[base + j * p.inner]));
  }
  let scale = 1.0 / state.y;
  for (var j = 0u; j < p.n; j++) {
    let k = base + j * p.inner;
    dst[k] = Elem(exp(f32(x[k]) - state.x) * scale);
  }
}

fn perWorkgroup(row: u32, lane: u32) {
  // `row` comes from the workgroup id, so this return is uniform across the workgroup.
  if (row >= p.outer * p.inner) { return; }
  let base = (row / p.inner) * p.n * p.inner + row % p.inner;
  var state = vec2f(LOWEST, 0.0);
  for (var j = lane; j < p.n; j += WG) {
    state = accumulate(state, f32(x[base + j * p.inner]));
  }
  // Two levels of eight (see reduce.wgsl); every lane then merges the WG / 8 survivors itself.
  partial[lane] = state;
  workgroupBarrier();
  if (lane < WG / 8u) {
    var s = partial[lane * 8u];
    for (var k = 1u; k < 8u; k++) { s = merge(s, partial[lane * 8u + k]); }
    partial[lane * 8u] = s;
  }
  workgroupBarrier();
  var total = partial[0];
  for (var k = 8u; k < WG; k += 8u) { total = merge(total, partial[k]); }
  let m = total.x;
  let scale = 1.0 / total.y;
  for (var j = lane; j < p.n; j += WG) {
    let k = base + j * p.inner;
    dst[k] = Elem(exp(f32(x[k]) - m) * scale);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(num_workgroups) nwg: vec3u) {
  let group = wid.y * nwg.x + wid.x;
  if (PER_THREAD == 1u) {
    perThread(group * WG + lane);
  } else {
    perWorkgroup(group, lane);
  }
}
