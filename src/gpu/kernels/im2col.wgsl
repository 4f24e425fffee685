// Convolution columns. IM2COL (define 1): col[n, (c*KH + kh)*KW + kw, oh*OW + ow] =
// x[n, c, oh*SH - PT + kh*DH, ow*SW - PL + kw*DW] (0 outside), so a 2-D convolution is
// W[OC, C*KH*KW] @ col. IM2COL 0 is the adjoint (col2im): each x element gathers the column
// entries that read it, with no atomics: dx[n, c, h, w] = sum over (kh, kw) with
// (h + PT - kh*DH) divisible by SH and in range (same for w) of col[...].

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  kh: u32, kw: u32, oh: u32, ow: u32,
  sh: u32, sw: u32, dh: u32, dw: u32,
  pt: u32, pl: u32, count: u32,
}

@group(0) @binding(0) var<storage, read> src: array<Elem>;
@group(0) @binding(1) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.count) { return; }
  let rowLength = p.oh * p.ow;
  let rows = p.c * p.kh * p.kw;
  if (IM2COL == 1u) {
    let pos = i % rowLength;
    let row = (i / rowLength) % rows;
    let n = i / (rowLength * rows);
    let kw = row % p.kw;
    let kh = (row / p.kw) % p.kh;
    let c = row / (p.kw * p.kh);
    let y = i32((pos / p.ow) * p.sh + kh * p.dh) - i32(p.pt);
    let x = i32((pos % p.ow) * p.sw + kw * p.dw) - i32(p.pl);
    var v = 0.0;
    if (y >= 0 && y < i32(p.h) && x >= 0 && x < i32(p.w)) {
      v = f32(src[((n * p.c + c) * p.h + u32(y)) * p.w + u32(x)]);
    }
    dst[i] = Elem(v);
    return;
  }
  let x = i % p.w;
  let y = (i / p.w) % p.h;
  let c = (i / (p.w * p.h)) % p.c;
  let n = i / (p.w * p.h * p.c);
  var acc = 0.0;
  for (var kh = 0u; kh < p.kh; kh++) {
    let ty = i32(y + p.pt) - i32(kh * p.dh);
    if (ty < 0 || ty % i32(p.sh) != 0) { continue; }
    let oy = u32(ty) / p.sh;
    if (oy >= p.oh) { continue; }
    for (var kw = 0u; kw < p.kw; kw++) {
      let tx = i32(x + p.pl) - i32(kw * p.dw);
      if (tx < 0 || tx % i32(p.sw) != 0) { continue; }
      let ox = u32(tx) / p.sw;
      if (ox >= p.ow) { continue; }
      let row = (c * p.kh + kh) * p.kw + kw;
      acc += f32(src[(n * rows + row) * rowLength + oy * p.ow + ox]);
    }
  }
  dst[i] = Elem(acc);
}
