// C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n]  (+ beta * bias[n] when HAS_BIAS)
// A is stored [M, K] or, with transA, [K, M]; B is [K, N] or, with transB, [N, K].
// 64x64 output tile per workgroup of 16x16 threads, each thread 4x4 outputs at a stride of 16
// so that neighbouring threads write neighbouring columns. K advances 16 at a time through
// workgroup memory. f32 accumulation whatever the storage type.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  transA: u32,
  transB: u32,
  alpha: f32,
}

@group(0) @binding(0) var<storage, read> a: array<Elem>;
@group(0) @binding(1) var<storage, read> b: array<Elem>;
@group(0) @binding(2) var<storage, read_write> c: array<Elem>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> tileA: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> tileB: array<array<f32, 64>, 16>; // [k][n]

fn loadA(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.M || col >= p.K) { return 0.0; }
  if (p.transA == 1u) { return f32(a[base + col * p.M + row]); }
  return f32(a[base + row * p.K + col]);
}

fn loadB(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.K || col >= p.N) { return 0.0; }
  if (p.transB == 1u) { return f32(b[base + col * p.K + row]); }
  return f32(b[base + row * p.N + col]);
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let rowBase = wg.y * 64u;
  let colBase = wg.x * 64u;
  let baseA = wg.z * p.strideA;
  let baseB = wg.z * p.strideB;
  let baseC = wg.z * p.strideC;
  let tid = lid.y * 16u + lid.x;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    // 1024 elements per tile, 4 per thread; the index order follows the memory layout so that
    // consecutive threads read consecutive addresses.
    for (var i = 0u; i < 4u; i++) {
      let idx = tid + i * 256u;
      if (p.transA == 1u) {
        let kk = idx / 64u; let mm = idx % 64u;
        tileA[kk][mm] = loadA(baseA, rowBase + mm, k0 + kk);
      } else {
        let mm = idx / 16u; let kk = idx % 16u;
        tileA[kk][mm] = loadA(baseA, rowBase + mm, k0 + kk);
      }
      if (p.transB == 1u) {
        let nn = idx / 16u; let kk = idx % 16u;
        tileB[kk][nn] = loadB(baseB, k0 + kk, colBase + nn);
      } else {
        let kk = idx / 64u; let nn = idx % 64u;
        tileB[kk][nn] = loadB(baseB, k0 + kk, colBase + nn);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let bv = vec4f(tileB[kk][lid.x], tileB[kk][lid.x + 16u], tileB[kk][lid.x + 32u], tileB[kk][lid.x + 48u]);
      acc0 += tileA[kk][lid.y] * bv;
      acc1 += tileA[kk][lid.y + 16u] * bv;
      acc2 += tileA[kk][lid.y + 32u] * bv;
      acc3 += tileA[kk][lid.y + 48u] * bv;
    }
    workgroupBarrier();
  }

  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let row = rowBase + lid.y + i * 16u;
    if (row >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let col = colBase + lid.x + j * 16u;
      if (col < p.N) {
        c[baseC + row * p.N + col] = Elem(p.alpha * accs[i][j]);
      }
    }
  }
}
