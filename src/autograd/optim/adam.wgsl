// One Adam / AdamW step on a parameter tensor, elementwise, in f32:
//   g = clip * grad (+ weightDecay * param for L2-coupled Adam, DECOUPLED == 0)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param -= lr * (m / bc1) / (sqrt(v / bc2) + eps)  (+ lr * weightDecay * param for AdamW)
// bc1 = 1 - b1^t, bc2 = 1 - b2^t. `clip` is coef[0], written on the GPU by clip.wgsl, so a
// step never waits for the gradient norm to come back to the CPU.

struct Params {
  count: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
  weightDecay: f32,
  bc1: f32,
  bc2: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<Elem>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> coef: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.count) { return; }
  let w = param[i];
  var g = f32(grad[i]) * coef[0];
  if (DECOUPLED == 0u) { g += p.weightDecay * w; }
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  var update = (mi / p.bc1) / (sqrt(vi / p.bc2) + p.epsilon);
  if (DECOUPLED == 1u) { update += p.weightDecay * w; }
  param[i] = w - p.lr * update;
}
