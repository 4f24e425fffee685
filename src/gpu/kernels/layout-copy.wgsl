// dst[outBase + sum_d c_d * outStride_d] = src[inBase + sum_d (c_d / div_d) * inStride_d]
// for every coordinate c of an iteration shape (axes innermost first, rank <= 8). Input strides
// are signed (Slice with negative steps walks backwards), zero for broadcast axes (Expand),
// and a divisor > 1 repeats input elements (nearest Resize by an integer factor). Output
// strides place a block inside a larger tensor (Concat, Split's gradient) and are signed too
// (Slice's gradient scatters back along negative steps). Pure data movement: values are
// copied as stored, no arithmetic.

struct Params {
  shape: array<vec4u, 2>,
  divisors: array<vec4u, 2>,
  inStrides: array<vec4i, 2>,
  outStrides: array<vec4i, 2>,
  count: u32,
  rank: u32,
  inBase: u32,
  outBase: u32,
}

@group(0) @binding(0) var<storage, read> src: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.count) { return; }
  var rest = i;
  var inOffset = i32(p.inBase);
  var outOffset = i32(p.outBase);
  for (var d = 0u; d < p.rank; d++) {
    let v = d >> 2u;
    let l = d & 3u;
    let size = p.shape[v][l];
    let coord = rest % size;
    rest = rest / size;
    inOffset += i32(coord / p.divisors[v][l]) * p.inStrides[v][l];
    outOffset += i32(coord) * p.outStrides[v][l];
  }
  dst[u32(outOffset)] = src[u32(inOffset)];
}
