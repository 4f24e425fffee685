// Shared by the broadcasting kernels (binary, where): maps a flat output index to element
// offsets in up to three operands. Axes are stored innermost first and already merged
// (see broadcast.ts), so the loop usually runs once or twice. The including kernel declares
// `p: BroadcastParams`.

struct BroadcastParams {
  shape: array<vec4u, 2>,
  strides0: array<vec4u, 2>,
  strides1: array<vec4u, 2>,
  strides2: array<vec4u, 2>,
  count: u32,
  rank: u32,
}

fn broadcastOffsets(index: u32) -> vec3u {
  var rest = index;
  var offsets = vec3u(0u);
  for (var d = 0u; d < p.rank; d++) {
    let v = d >> 2u;
    let l = d & 3u;
    let size = p.shape[v][l];
    let coord = rest % size;
    rest = rest / size;
    offsets += coord * vec3u(p.strides0[v][l], p.strides1[v][l], p.strides2[v][l]);
  }
  return offsets;
}

// Flat invocation index over a 2-D grid of 64-wide workgroups (see grid.ts).
fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * 64u + gid.x;
}
