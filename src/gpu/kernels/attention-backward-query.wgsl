// Attention backward, query side: one invocation per query row recomputes its scores tile
// by tile from the saved log-sum-exp (P_ij = exp(s_ij - L_i)), and with
// delta_i = dO_i . O_i and dS_ij = P_ij (dO_i . v_j - delta_i) accumulates
// dQ_i = scale * sum_j dS_ij k_j. Writes delta for the key-side kernel.

@group(0) @binding(0) var<storage, read> q: array<Elem>;
@group(0) @binding(1) var<storage, read> k: array<Elem>;
@group(0) @binding(2) var<storage, read> v: array<Elem>;
@group(0) @binding(3) var<storage, read> o: array<Elem>;
@group(0) @binding(4) var<storage, read> dO: array<Elem>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> dq: array<Elem>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> kTile: array<vec4f, TILE * D4>;
var<workgroup> vTile: array<vec4f, TILE * D4>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  let i = wid.x * WG + lane;
  let valid = i < p.nq;
  let row = (bh * p.nq + min(i, p.nq - 1u)) * D;
  var qi: array<vec4f, D4>;
  var gi: array<vec4f, D4>;
  var acc: array<vec4f, D4>;
  var d = 0.0;
  for (var c = 0u; c < D4; c++) {
    let at = row + c * 4u;
    qi[c] = vec4f(f32(q[at]), f32(q[at + 1u]), f32(q[at + 2u]), f32(q[at + 3u])) * p.scale;
    gi[c] = vec4f(f32(dO[at]), f32(dO[at + 1u]), f32(dO[at + 2u]), f32(dO[at + 3u]));
    d += dot(gi[c], vec4f(f32(o[at]), f32(o[at + 1u]), f32(o[at + 2u]), f32(o[at + 3u])));
    acc[c] = vec4f(0.0);
  }
  let li = lse[bh * p.nq + min(i, p.nq - 1u)];
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
      var dp = 0.0;
      for (var c = 0u; c < D4; c++) {
        s += dot(qi[c], kTile[jj * D4 + c]);
        dp += dot(gi[c], vTile[jj * D4 + c]);
      }
      let ds = exp(s - li) * (dp - d);
      for (var c = 0u; c < D4; c++) { acc[c] += ds * kTile[jj * D4 + c]; }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var c = 0u; c < D4; c++) {
      let value = acc[c] * p.scale;
      let at = row + c * 4u;
      dq[at] = Elem(value.x);
      dq[at + 1u] = Elem(value.y);
      dq[at + 2u] = Elem(value.z);
      dq[at + 3u] = Elem(value.w);
    }
    delta[bh * p.nq + i] = d;
  }
}
