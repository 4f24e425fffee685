// Memory-efficient attention forward: one invocation per query row, keys streamed through
// workgroup memory TILE at a time with an online softmax (running max m, running sum l,
// accumulator rescaled when m grows), so no [Nq, Nk] score matrix ever exists. Writes
// O = softmax(s) V and the row's log-sum-exp L = m + log(l) for the backward pass.

@group(0) @binding(0) var<storage, read> q: array<Elem>;
@group(0) @binding(1) var<storage, read> k: array<Elem>;
@group(0) @binding(2) var<storage, read> v: array<Elem>;
@group(0) @binding(3) var<storage, read_write> o: array<Elem>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> kTile: array<vec4f, TILE * D4>;
var<workgroup> vTile: array<vec4f, TILE * D4>;

fn rowVec(base: u32, c4: u32) -> vec4f {
  let at = base + c4 * 4u;
  return vec4f(f32(q[at]), f32(q[at + 1u]), f32(q[at + 2u]), f32(q[at + 3u]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  let i = wid.x * WG + lane;
  let valid = i < p.nq;
  let row = (bh * p.nq + min(i, p.nq - 1u)) * D;
  var qi: array<vec4f, D4>;
  var acc: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) {
    qi[c] = rowVec(row, c) * p.scale;
    acc[c] = vec4f(0.0);
  }
  var m = LOWEST;
  var l = 0.0;
  for (var j0 = 0u; j0 < p.nk; j0 += TILE) {
    for (var t = lane; t < TILE * D4; t += WG) {
      let jj = min(j0 + t / D4, p.nk - 1u);
      let c = (t % D4) * 4u;
      kTile[t] = vec4f(f32(k[kIndex(bh, jj, c)]), f32(k[kIndex(bh, jj, c + 1u)]), f32(k[kIndex(bh, jj, c + 2u)]), f32(k[kIndex(bh, jj, c + 3u)]));
      let at = (bh * p.nk + jj) * D + c;
      vTile[t] = vec4f(f32(v[at]), f32(v[at + 1u]), f32(v[at + 2u]), f32(v[at + 3u]));
    }
    workgroupBarrier();
    let count = min(TILE, p.nk - j0);
    for (var jj = 0u; jj < count; jj++) {
      var s = 0.0;
      for (var c = 0u; c < D4; c++) { s += dot(qi[c], kTile[jj * D4 + c]); }
      let mNew = max(m, s);
      let correction = exp(m - mNew);
      let e = exp(s - mNew);
      l = l * correction + e;
      for (var c = 0u; c < D4; c++) { acc[c] = acc[c] * correction + e * vTile[jj * D4 + c]; }
      m = mNew;
    }
    workgroupBarrier();
  }
  if (valid) {
    let inv = 1.0 / l;
    for (var c = 0u; c < D4; c++) {
      let value = acc[c] * inv;
      let at = row + c * 4u;
      o[at] = Elem(value.x);
      o[at + 1u] = Elem(value.y);
      o[at + 2u] = Elem(value.z);
      o[at + 3u] = Elem(value.w);
    }
    lse[bh * p.nq + i] = m + log(l);
  }
}
