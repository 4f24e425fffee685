// dst[dstOffset + sum_d c_d * dstStride_d] = alpha * src[srcOffset + sum_d c_d * srcStride_d]
// for every coordinate c of an iteration shape (innermost axis first, at most 8 axes after
// merging). Strides are signed and may be 0: one kernel serves Transpose, Slice (and its
// scatter-back), Concat/Split pieces and Expand (stride 0 on broadcast axes).

struct Params {
  shape: array<vec4u, 2>,
  srcStrides: array<vec4i, 2>,
  dstStrides: array<vec4i, 2>,
  count: u32,
  rank: u32,
  srcOffset: i32,
  dstOffset: i32,
  alpha: f32,
}

@group(0) @binding(0) var<storage, read> src: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.count) { return; }
  var rest = i;
  var readAt = p.srcOffset;
  var writeAt = p.dstOffset;
  for (var d = 0u; d < p.rank; d++) {
    let v = d >> 2u;
    let l = d & 3u;
    let size = p.shape[v][l];
    let coord = i32(rest % size);
    rest = rest / size;
    readAt += coord * p.srcStrides[v][l];
    writeAt += coord * p.dstStrides[v][l];
  }
  dst[u32(writeAt)] = Elem(p.alpha * f32(src[u32(readAt)]));
}
