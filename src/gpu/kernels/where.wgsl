// dst[i] = cond[ic] != 0 ? a[ia] : b[ib] under numpy broadcasting of all three operands.
// cond is read as u32 words, which covers i32 storage too (only zero / nonzero matters).

@group(0) @binding(0) var<storage, read> cond: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
@group(0) @binding(3) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(4) var<uniform> p: BroadcastParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= p.count) { return; }
  let offsets = broadcastOffsets(i);
  dst[i] = select(b[offsets.z], a[offsets.y], cond[offsets.x] != 0u);
}
