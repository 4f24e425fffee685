// dst[i] = f32(src[i]) for src holding IEEE binary16 values, two per u32 word (the lower address
// in the low half). unpack2x16float needs no shader-f16, so float16 tensors that onnxruntime-web
// hands over (fp16 packs) become f32 for our kernels on every adapter.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let word = gid.y * nwg.x * 64u + gid.x;
  let i = word * 2u;
  if (i >= p.count) { return; }
  let pair = unpack2x16float(src[word]);
  dst[i] = pair.x;
  if (i + 1u < p.count) { dst[i + 1u] = pair.y; }
}
