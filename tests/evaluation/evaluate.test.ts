import { describe, expect, test } from 'vitest';
import { JobQueue } from '../../src/engine/job-queue.ts';
import { evaluate, type EvaluationHost } from '../../src/evaluation/evaluate.ts';
import { planPrompts, type EvaluationProtocol } from '../../src/evaluation/protocol.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';
import type { InferenceSession, OnnxRunner } from '../../src/pipeline/onnx/runner.ts';
import { forgeStandInJudge } from '../support/forge-judge.ts';

const classes = [
  { name: 'cat', synonyms: ['kitty'] },
  { name: 'dog', synonyms: [] },
];
const protocol: EvaluationProtocol = {
  classes,
  erased: ['cat'],
  prompts: planPrompts(classes, ['cat'], ['a photo of the {object}']),
  seeds: [0, 1],
  sampling: { steps: 1, guidance: 7.5, scheduler: 'ddim', negativePrompt: '' },
};

/**
 * The engine's runner as onnxruntime-web behaves: one call at a time. Every runner call records
 * whether it came inside the host's `exclusive` (the engine's job queue) or beside it.
 */
function watchedRunner(inner: OnnxRunner, isExclusive: () => boolean, calls: string[]): OnnxRunner {
  const note = (what: string) => calls.push(`${what}${isExclusive() ? '' : ' OUTSIDE the queue'}`);
  return {
    name: inner.name,
    sharesDevice: inner.sharesDevice,
    hostTensor: (type, data, dims) => inner.hostTensor(type, data, dims),
    fromGpu: (ctx, tensor) => inner.fromGpu(ctx, tensor),
    toGpu: (ctx, tensor) => inner.toGpu(ctx, tensor),
    async createSession(spec) {
      note(`create ${spec.name}`);
      const session = await inner.createSession(spec);
      return new Proxy(session, {
        get(target, key, receiver) {
          if (key === 'run')
            return (...args: Parameters<InferenceSession['run']>) => {
              note(`run ${spec.name}`);
              return target.run(...args);
            };
          if (key === 'release')
            return () => {
              note(`release ${spec.name}`);
              return target.release();
            };
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    },
  };
}

describe('evaluate', () => {
  test("the judge's session is made, run and released only inside the host's job queue, never beside a generation", async () => {
    const standIn = await forgeStandInJudge();
    const queue = new JobQueue();
    let depth = 0;
    const exclusive: EvaluationHost['exclusive'] = (job) =>
      queue.run(async () => {
        depth++;
        try {
          return await job();
        } finally {
          depth--;
        }
      });
    const calls: string[] = [];
    const generated: string[] = [];
    const host: EvaluationHost = {
      runner: watchedRunner(new NodeOnnxRunner(), () => depth > 0, calls),
      pack: { id: 'pack', description: 'fake' },
      describeEdit: () => ({ kind: 'recipe', id: 'edit-1', recipe: '{}' }),
      exclusive,
      source: {
        // Each image is a queued job, as in the engine; a job of someone else's (the studio's grid) waits in the same queue.
        generate: ({ prompt, seed, variant }) =>
          exclusive(async () => {
            generated.push(`${variant} ${prompt} ${seed}`);
            const rgba = new Uint8ClampedArray(64 * 64 * 4).fill(prompt.includes('cat') ? 200 : 40);
            return { image: { width: 64, height: 64, rgba }, editId: variant === 'edited' ? 'edit-1' : null };
          }),
      },
    };
    // A long job holds the queue when the evaluation starts: the judge must wait for it.
    let releaseBusy!: () => void;
    const busy = exclusive(() => new Promise<void>((resolve) => (releaseBusy = resolve)));
    const pending = evaluate(
      { jobId: 'e', protocol, judge: { kind: 'concept-world', onnx: standIn.onnx, labels: standIn.labels }, runs: [{ kind: 'original' }, { kind: 'edited' }] },
      host,
      () => undefined,
      new AbortController().signal,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toEqual([]); // nothing touched ORT while the other job ran
    releaseBusy();
    await busy;
    const { report } = await pending;
    expect(generated).toHaveLength(12);
    expect(report.runs).toHaveLength(2);
    expect(calls[0]).toBe('create judge.onnx');
    expect(calls.at(-1)).toBe('release judge.onnx');
    expect(calls.filter((c) => c.startsWith('run'))).toHaveLength(6); // one judge batch per prompt and run
    expect(calls.filter((c) => c.includes('OUTSIDE'))).toEqual([]);
  }, 60_000);
});
