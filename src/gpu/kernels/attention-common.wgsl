// Shared by the fused attention kernels. Q, V, O, dO are [BH, rows, D] (rows = queries or
// keys); K is [BH, D, Nk] when K_T == 1 (the layout the forge's Transpose perm [0, 2, 3, 1]
// yields), else [BH, Nk, D]. Defines: D4 = D / 4 (rows are handled as vec4s: a quarter of the
// instructions, which keeps shader compilation on software adapters short), TILE (rows per
// shared tile; the tiles fit WebGPU's guaranteed 16 KiB of workgroup memory), K_T.
// Scores are s_ij = scale * q_i . k_j.

struct Params {
  nq: u32,
  nk: u32,
  scale: f32,
}

// Largest finite f32 (constant expressions may not be infinite).
const LOWEST = -0x1.fffffep+127f;
const WG = 64u;
const D = D4 * 4u;

fn kIndex(bh: u32, j: u32, c: u32) -> u32 {
  if (K_T == 1u) { return (bh * D + c) * p.nk + j; }
  return (bh * p.nk + j) * D + c;
}
