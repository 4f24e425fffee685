// dst[i] = value: zero-initialises gradient buffers (pooled buffers hold stale data).

struct Params {
  count: u32,
  value: f32,
}

@group(0) @binding(0) var<storage, read_write> dst: array<Elem>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.count) { return; }
  dst[i] = Elem(p.value);
}
