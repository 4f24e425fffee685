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

var<workgroup> kTile: array<f32, TILE * D>;
var<workgroup> vTile: array<f32, TILE * D>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  let i = wid.x * WG + lane;
  let valid = i < p.nq;
  let row = (bh * p.nq + min(i, p.nq - 1u)) * D;
  var qi: array<f32, D>;
  var gi: array<f32, D>;
  var acc: array<f32, D>;
  var d = 0.0;
  for (var c = 0u; c < D; c++) {
    qi[c] = f32(q[row + c]) * p.scale;
    gi[c] = f32(dO[row + c]);
    d += gi[c] * f32(o[row + c]);
    acc[c] = 0.0;
  }
  let li = lse[bh * p.nq + min(i, p.nq - 1u)];
  for (var j0 = 0u; j0 < p.nk; j0 += TILE) {
    for (var t = lane; t < TILE * D; t += WG) {
      let j = j0 + t / D;
      let c = t % D;
      let inside = j < p.nk;
      let jj = min(j, p.nk - 1u);
      kTile[t] = select(0.0, f32(k[kIndex(bh, jj, c)]), inside);
      vTile[t] = select(0.0, f32(v[(bh * p.nk + jj) * D + c]), inside);
    }
    workgroupBarrier();
    let count = min(TILE, p.nk - j0);
    for (var jj = 0u; jj < count; jj++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < D; c++) {
        s += qi[c] * kTile[jj * D + c];
        dp += gi[c] * vTile[jj * D + c];
      }
      let ds = exp(s - li) * (dp - d);
      for (var c = 0u; c < D; c++) { acc[c] += ds * kTile[jj * D + c]; }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var c = 0u; c < D; c++) { dq[row + c] = Elem(acc[c] * p.scale); }
    delta[bh * p.nq + i] = d;
  }
}
