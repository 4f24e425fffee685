/** GradientLedger: sums per name, caller seeds never freed, everything it owns freed or handed out. */
import { expect, test } from 'vitest';
import { GradientLedger } from '../../src/autograd/gradient-ledger.ts';
import { testContext } from '../support/gpu.ts';

const ctx = await testContext();

test('sums what several stages send to one name, keeps caller seeds, frees what it owns', async () => {
  await ctx.sync();
  const baseline = ctx.pool.snapshot().inUseBytes;
  const seed = ctx.upload([1, 2, 3, 4], [2, 2]);
  const ledger = new GradientLedger(ctx, new Map([['out', seed]]));
  expect([...ledger.seedsFor(['out', 'absent']).keys()]).toEqual(['out']);
  // Two stages send dL/dx (one flat, one shaped: shapes are taken from the first); one sends dL/dy.
  ledger.add('x', ctx.upload([1, 1, 1, 1], [4]));
  ledger.add('x', ctx.upload([10, 20, 30, 40], [2, 2]));
  ledger.add('y', ctx.upload([5], [1]));
  // A seed that also receives a gradient: the sum is the ledger's, the caller's seed untouched.
  ledger.add('out', ctx.upload([1, 1, 1, 1], [2, 2]));
  expect(Array.from(await ctx.read(ledger.seedsFor(['out']).get('out')!))).toEqual([2, 3, 4, 5]);
  ledger.consume(['out']);
  const taken = ledger.take(new Set(['x']));
  expect([...taken.keys()]).toEqual(['x']);
  expect(taken.get('x')!.shape).toEqual([4]);
  expect(Array.from(await ctx.read(taken.get('x')!))).toEqual([11, 21, 31, 41]);
  expect(Array.from(await ctx.read(seed))).toEqual([1, 2, 3, 4]);
  taken.get('x')!.release();
  seed.release();
  await ctx.sync();
  expect(ctx.pool.snapshot().inUseBytes).toBe(baseline);
});
