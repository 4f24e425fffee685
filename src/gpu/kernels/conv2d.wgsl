// 2-D convolution as an implicit GEMM, per (batch, group):
//   out[b, g*CoG + m, pix] = bias[g*CoG + m] + sum_k W[g*CoG + m, k] * X~[k, pix]
// where k = (ci, ky, kx) runs over CiG * KH * KW (the ONNX weight layout [Cout, CiG, KH, KW]
// is already that matrix) and X~ is the im2col matrix, never stored: each tile load computes
// the input coordinate (with stride, dilation and zero padding) itself. Tiling as matmul.wgsl:
// 64x64 output tile per 16x16 workgroup, 4x4 per thread, K in steps of 16, f32 accumulation.

struct Params {
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  kernelHeight: u32,
  kernelWidth: u32,
  strideH: u32,
  strideW: u32,
  padTop: u32,
  padLeft: u32,
  dilationH: u32,
  dilationW: u32,
  groups: u32,
  hasBias: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Elem>;
@group(0) @binding(1) var<storage, read> w: array<Elem>;
@group(0) @binding(2) var<storage, read> bias: array<Elem>;
@group(0) @binding(3) var<storage, read_write> out: array<Elem>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> tileA: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> tileB: array<array<f32, 64>, 16>; // [k][pixel]

fn loadW(base: u32, row: u32, col: u32, rows: u32, depth: u32) -> f32 {
  if (row >= rows || col >= depth) { return 0.0; }
  return f32(w[base + row * depth + col]);
}

fn loadX(base: u32, k: u32, pixel: u32, depth: u32, pixels: u32) -> f32 {
  if (k >= depth || pixel >= pixels) { return 0.0; }
  let taps = p.kernelHeight * p.kernelWidth;
  let ci = k / taps;
  let tap = k % taps;
  let ky = tap / p.kernelWidth;
  let kx = tap % p.kernelWidth;
  let oy = pixel / p.outWidth;
  let ox = pixel % p.outWidth;
  let iy = i32(oy * p.strideH + ky * p.dilationH) - i32(p.padTop);
  let ix = i32(ox * p.strideW + kx * p.dilationW) - i32(p.padLeft);
  if (iy < 0 || ix < 0 || iy >= i32(p.inHeight) || ix >= i32(p.inWidth)) { return 0.0; }
  return f32(x[base + (ci * p.inHeight + u32(iy)) * p.inWidth + u32(ix)]);
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let batch = wg.z / p.groups;
  let group = wg.z % p.groups;
  let inPerGroup = p.inChannels / p.groups;
  let outPerGroup = p.outChannels / p.groups;
  let depth = inPerGroup * p.kernelHeight * p.kernelWidth;
  let pixels = p.outHeight * p.outWidth;
  let rowBase = wg.y * 64u;
  let colBase = wg.x * 64u;
  let baseW = group * outPerGroup * depth;
  let baseX = (batch * p.inChannels + group * inPerGroup) * p.inHeight * p.inWidth;
  let tid = lid.y * 16u + lid.x;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < depth; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let idx = tid + i * 256u;
      let mm = idx / 16u; let ka = idx % 16u;
      tileA[ka][mm] = loadW(baseW, rowBase + mm, k0 + ka, outPerGroup, depth);
      let kb = idx / 64u; let nn = idx % 64u;
      tileB[kb][nn] = loadX(baseX, k0 + kb, colBase + nn, depth, pixels);
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
    if (row >= outPerGroup) { continue; }
    let channel = group * outPerGroup + row;
    var shift = 0.0;
    if (p.hasBias == 1u) { shift = f32(bias[channel]); }
    let base = (batch * p.outChannels + channel) * pixels;
    for (var j = 0u; j < 4u; j++) {
      let col = colBase + lid.x + j * 16u;
      if (col < pixels) {
        out[base + col] = Elem(accs[i][j] + shift);
      }
    }
  }
}
