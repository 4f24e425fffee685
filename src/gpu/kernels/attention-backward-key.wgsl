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

var<workgroup> qTile: array<vec4f, TILE * D4>;
var<workgroup> gTile: array<vec4f, TILE * D4>;
var<workgroup> lTile: array<f32, TILE>;
var<workgroup> dTile: array<f32, TILE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  let j = wid.x * WG + lane;
  let valid = j < p.nk;
  let jc = min(j, p.nk - 1u);
  var kj: array<vec4f, D4>;
  var vj: array<vec4f, D4>;
  var dkj: array<vec4f, D4>;
  var dvj: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) {
    let e = c * 4u;
    kj[c] = vec4f(f32(k[kIndex(bh, jc, e)]), f32(k[kIndex(bh, jc, e + 1u)]), f32(k[kIndex(bh, jc, e + 2u)]), f32(k[kIndex(bh, jc, e + 3u)])) * p.scale;
    let at = (bh * p.nk + jc) * D + e;
    vj[c] = vec4f(f32(v[at]), f32(v[at + 1u]), f32(v[at + 2u]), f32(v[at + 3u]));
    dkj[c] = vec4f(0.0);
    dvj[c] = vec4f(0.0);
  }
  for (var i0 = 0u; i0 < p.nq; i0 += TILE) {
    for (var t = lane; t < TILE * D4; t += WG) {
      let at = (bh * p.nq + min(i0 + t / D4, p.nq - 1u)) * D + (t % D4) * 4u;
      qTile[t] = vec4f(f32(q[at]), f32(q[at + 1u]), f32(q[at + 2u]), f32(q[at + 3u]));
      gTile[t] = vec4f(f32(dO[at]), f32(dO[at + 1u]), f32(dO[at + 2u]), f32(dO[at + 3u]));
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
      for (var c = 0u; c < D4; c++) {
        s += dot(qTile[ii * D4 + c], kj[c]);
        dp += dot(gTile[ii * D4 + c], vj[c]);
      }
      let prob = exp(s - lTile[ii]);
      let ds = prob * (dp - dTile[ii]);
      for (var c = 0u; c < D4; c++) {
        dvj[c] += prob * gTile[ii * D4 + c];
        dkj[c] += ds * qTile[ii * D4 + c];
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var c = 0u; c < D4; c++) {
      let e = c * 4u;
      let dkv = dkj[c] * p.scale;
      dk[kIndex(bh, j, e)] = Elem(dkv.x);
      dk[kIndex(bh, j, e + 1u)] = Elem(dkv.y);
      dk[kIndex(bh, j, e + 2u)] = Elem(dkv.z);
      dk[kIndex(bh, j, e + 3u)] = Elem(dkv.w);
      let at = (bh * p.nk + j) * D + e;
      dv[at] = Elem(dvj[c].x);
      dv[at + 1u] = Elem(dvj[c].y);
      dv[at + 2u] = Elem(dvj[c].z);
      dv[at + 3u] = Elem(dvj[c].w);
    }
  }
}
