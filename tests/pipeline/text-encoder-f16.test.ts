/**
 * An fp16 pack's text encoder on a device-sharing runner (the browser's onnxruntime-web): ORT
 * hands last_hidden_state over as a float16 GPU buffer; the embedding our kernels get is f32 with
 * the same values. The runner is a stand-in that returns such a buffer (ORT-web's fp16 models
 * need shader-f16, which SwiftShader lacks), so the conversion path is what is under test.
 */
import { expect, test } from 'vitest';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { forgedPack } from '../../src/diagnostics/forged-pack.ts';
import type { InferenceSession, OnnxRunner, Tensor } from '../../src/pipeline/onnx/runner.ts';
import { TextEncoderRunner } from '../../src/pipeline/text-encoder.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { fromHalf, toHalf } from '../../src/util/half.ts';
import { testContext } from '../support/gpu.ts';

const ctx = await testContext();

test('float16 last_hidden_state from a device-sharing runner becomes an f32 embedding with the same values', async () => {
  const { pack } = await forgedPack('tiny-sd15', 'fp16');
  const { textTokens, textHidden } = pack.manifest.dims;
  const batch = 2;
  const halves = toHalf(new SeededRandom(4).normalArray(batch * textTokens * textHidden, 3));
  // What ORT-web's WebGPU EP returns: a float16 tensor in a GPU buffer of the shared device.
  const ortBuffer = ctx.empty([batch, textTokens, textHidden], 'f16');
  ctx.writeTensor(ortBuffer, halves);
  let disposed = false;
  const hidden = { type: 'float16', dims: [batch, textTokens, textHidden], location: 'gpu-buffer', dispose: () => void (disposed = true) } as unknown as Tensor;
  const session = { run: async () => ({ last_hidden_state: hidden }), release: async () => {} } as unknown as InferenceSession;
  const runner: OnnxRunner = {
    name: 'fake ORT-web',
    sharesDevice: true,
    createSession: async () => session,
    hostTensor: (type, data, dims) => ({ type, data, dims }) as unknown as Tensor,
    fromGpu: async () => {
      throw new Error('not used');
    },
    toGpu: async (_ctx, tensor): Promise<GpuTensor> => {
      expect(tensor).toBe(hidden);
      return ortBuffer.reshape(ortBuffer.shape);
    },
  };
  const encoder = await TextEncoderRunner.create(runner, pack);
  const embedding = await encoder.encode(ctx, new Int32Array(batch * textTokens), batch);
  expect(embedding.dtype).toBe('f32');
  expect(embedding.shape).toEqual([batch, textTokens, textHidden]);
  expect(disposed).toBe(true);
  const values = await ctx.read(embedding);
  const expected = fromHalf(halves);
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) if (values[i] !== expected[i]) mismatches++;
  expect(mismatches).toBe(0);
  embedding.release();
  ortBuffer.release();
});
