// Reduction of x viewed as [outer, n, inner] along n: dst[o * inner + q] = op_j x[o, j, q].
// Defines: OP (codes in reduce.ts), WG (workgroup size), PER_THREAD (1: one invocation per
// output; 0: one workgroup per output combining through workgroup memory; see reduction-plan.ts).
// Accumulates in f32 whatever the storage type.

struct Params {
  outer: u32,
  n: u32,
  inner: u32,
  invN: f32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

// Largest finite f32 rather than infinity: WGSL constant expressions may not be infinite.
fn identity() -> f32 {
  if (OP == 2u) { return -0x1.fffffep+127f; }
  if (OP == 3u) { return 0x1.fffffep+127f; }
  return 0.0;
}

fn term(v: f32) -> f32 {
  if (OP == 4u) { return v * v; }
  return v;
}

fn combine(acc: f32, v: f32) -> f32 {
  if (OP == 2u) { return max(acc, v); }
  if (OP == 3u) { return min(acc, v); }
  return acc + v;
}

fn finish(acc: f32) -> f32 {
  if (OP == 1u) { return acc * p.invN; }
  return acc;
}

fn perThread(output: u32) {
  if (output >= p.outer * p.inner) { return; }
  let base = (output / p.inner) * p.n * p.inner + output % p.inner;
  var acc = identity();
  for (var j = 0u; j < p.n; j++) {
    acc = combine(acc, term(f32(x[base + j * p.inner])));
  }
  dst[output] = Elem(finish(acc));
}

fn perWorkgroup(output: u32, lane: u32) {
  // `output` comes from the workgroup id, so this return is uniform across the workgroup.
  if (output >= p.outer * p.inner) { return; }
  let base = (output / p.inner) * p.n * p.inner + output % p.inner;
  var acc = identity();
  for (var j = lane; j < p.n; j += WG) {
    acc = combine(acc, term(f32(x[base + j * p.inner])));
  }
  // Two levels of eight instead of a log2(WG) tree: barriers are what software adapters
  // (SwiftShader) pay for, tens of microseconds each per workgroup; GPUs barely notice.
  partial[lane] = acc;
  workgroupBarrier();
  if (lane < WG / 8u) {
    var s = partial[lane * 8u];
    for (var k = 1u; k < 8u; k++) { s = combine(s, partial[lane * 8u + k]); }
    partial[lane * 8u] = s;
  }
  workgroupBarrier();
  if (lane == 0u) {
    var s = partial[0];
    for (var k = 8u; k < WG; k += 8u) { s = combine(s, partial[k]); }
    dst[output] = Elem(finish(s));
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
