// Sums x over its broadcast axes: one invocation per output element walks every input
// element that maps to it. Kept and summed axes are listed innermost first (merged where
// contiguous, at most 8 of each) with their input strides; the output is dense in kept order.
// This is the adjoint of numpy broadcasting, used for gradients of broadcast operands.

struct Params {
  keptShape: array<vec4u, 2>,
  keptStrides: array<vec4u, 2>,
  sumShape: array<vec4u, 2>,
  sumStrides: array<vec4u, 2>,
  count: u32,
  keptRank: u32,
  sumRank: u32,
  sumCount: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.y * nwg.x * 64u + gid.x;
  if (o >= p.count) { return; }
  var rest = o;
  var base = 0u;
  for (var d = 0u; d < p.keptRank; d++) {
    let size = p.keptShape[d >> 2u][d & 3u];
    base += (rest % size) * p.keptStrides[d >> 2u][d & 3u];
    rest = rest / size;
  }
  var acc = 0.0;
  for (var r = 0u; r < p.sumCount; r++) {
    var left = r;
    var offset = base;
    for (var d = 0u; d < p.sumRank; d++) {
      let size = p.sumShape[d >> 2u][d & 3u];
      offset += (left % size) * p.sumStrides[d >> 2u][d & 3u];
      left = left / size;
    }
    acc += f32(x[offset]);
  }
  dst[o] = Elem(acc);
}
