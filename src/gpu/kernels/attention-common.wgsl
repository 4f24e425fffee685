// Shared by the fused attention kernels. Q, V, O, dO are [BH, rows, D] (rows = queries or
// keys); K is [BH, D, Nk] when K_T == 1 (the layout the forge's Transpose perm [0, 2, 3, 1]
// yields), else [BH, Nk, D]. Defines: D (head dim), TILE (rows per shared tile, with
// 2 * TILE * D * 4 bytes <= 16 KiB), K_T. scores s_ij = scale * q_i . k_j.

struct Params {
  nq: u32,
  nk: u32,
  scale: f32,
}

// Largest finite f32 (constant expressions may not be infinite).
const LOWEST = -0x1.fffffep+127f;
const WG = 64u;

fn kIndex(bh: u32, j: u32, c: u32) -> u32 {
  if (K_T == 1u) { return (bh * D + c) * p.nk + j; }
  return (bh * p.nk + j) * D + c;
}
