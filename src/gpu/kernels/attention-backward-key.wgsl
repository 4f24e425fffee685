// Attention backward, key side: one invocation per key row streams query rows (Q, dO, L,
// delta) through workgroup memory and accumulates dV_j = sum_i P_ij dO_i and
// dK_j = scale * sum_i P_ij (dO_i . v_j - delta_i) q_i, recomputing P_ij = exp(s_ij - L_i).
// dK is written in K's layout (K_T).

@group(0) @binding(0) var<storage, read> q: array<Elem>;
@group(0) @binding(1) var<storage, read> k: array<Elem>;
@group(0) @binding(2) var<storage, read> v: array<Elem>;
@group(0) @binding(3) var<storage, read> dO: array<Elem>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dk: array<Elem>;
@group(0) @binding(7) var<storage, read_write> dv: array<Elem>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> qTile: array<f32, TILE * D>;
var<workgroup> gTile: array<f32, TILE * D>;
var<workgroup> lTile: array<f32, TILE>;
var<workgroup> dTile: array<f32, TILE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  let j = wid.x * WG + lane;
  let valid = j < p.nk;
  let jc = min(j, p.nk - 1u);
  var kj: array<f32, D>;
  var vj: array<f32, D>;
  var dkj: array<f32, D>;
  var dvj: array<f32, D>;
  for (var c = 0u; c < D; c++) {
    kj[c] = f32(k[kIndex(bh, jc, c)]) * p.scale;
    vj[c] = f32(v[(bh * p.nk + jc) * D + c]);
    dkj[c] = 0.0;
    dvj[c] = 0.0;
  }
  for (var i0 = 0u; i0 < p.nq; i0 += TILE) {
    for (var t = lane; t < TILE * D; t += WG) {
      let i = min(i0 + t / D, p.nq - 1u);
      let c = t % D;
      qTile[t] = f32(q[(bh * p.nq + i) * D + c]);
      gTile[t] = f32(dO[(bh * p.nq + i) * D + c]);
    }
    for (var t = lane; t < TILE; t += WG) {
      let i = min(i0 + t, p.nq - 1u);
      lTile[t] = lse[bh * p.nq + i];
      dTile[t] = delta[bh * p.nq + i];
    }
    workgroupBarrier();
    let count = min(TILE, p.nq - i0);
    for (var ii = 0u; ii < count; ii++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < D; c++) {
        s += qTile[ii * D + c] * kj[c];
        dp += gTile[ii * D + c] * vj[c];
      }
      let prob = exp(s - lTile[ii]);
      let ds = prob * (dp - dTile[ii]);
      for (var c = 0u; c < D; c++) {
        dvj[c] += prob * gTile[ii * D + c];
        dkj[c] += ds * qTile[ii * D + c];
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var c = 0u; c < D; c++) {
      dk[kIndex(bh, j, c)] = Elem(dkj[c] * p.scale);
      dv[(bh * p.nk + j) * D + c] = Elem(dvj[c]);
    }
  }
}
