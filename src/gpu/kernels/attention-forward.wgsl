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

var<workgroup> kTile: array<f32, TILE * D>;
var<workgroup> vTile: array<f32, TILE * D>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  let i = wid.x * WG + lane;
  let valid = i < p.nq;
  var qi: array<f32, D>;
  var acc: array<f32, D>;
  for (var c = 0u; c < D; c++) {
    qi[c] = select(0.0, f32(q[(bh * p.nq + min(i, p.nq - 1u)) * D + c]) * p.scale, valid);
    acc[c] = 0.0;
  }
  var m = LOWEST;
  var l = 0.0;
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
      for (var c = 0u; c < D; c++) { s += qi[c] * kTile[jj * D + c]; }
      if (s > m) {
        let correction = exp(m - s);
        l *= correction;
        for (var c = 0u; c < D; c++) { acc[c] *= correction; }
        m = s;
      }
      let e = exp(s - m);
      l += e;
      for (var c = 0u; c < D; c++) { acc[c] += e * vTile[jj * D + c]; }
    }
    workgroupBarrier();
  }
  if (valid) {
    let inv = 1.0 / l;
    for (var c = 0u; c < D; c++) { o[(bh * p.nq + i) * D + c] = Elem(acc[c] * inv); }
    lse[bh * p.nq + i] = m + log(l);
  }
}
