import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { propose } from '../../../src/erasure/proposer/propose.ts';
import { ProposalReplyError } from '../../../src/erasure/proposer/reply-parser.ts';
import { TransformersProposer } from '../../../src/erasure/proposer/transformers-proposer.ts';
import { HubServer } from '../../support/hub-server.ts';
import { forgeTinyLlm, TINY_REPLY } from './tiny-llm.ts';

describe('transformers.js backend (Node, CPU) on a forged tiny LLM served by the local hub', () => {
  let hub: HubServer;
  let cacheDir: string;
  beforeAll(async () => {
    hub = await HubServer.start();
    hub.setRepo('lethe-test/tiny-json-llm', forgeTinyLlm({ reply: TINY_REPLY }));
    hub.setRepo('lethe-test/tiny-garbage-llm', forgeTinyLlm({ seed: 7 }));
    cacheDir = mkdtempSync(join(tmpdir(), 'lethe-tfjs-'));
  });
  afterAll(async () => {
    await hub?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  test('downloads with progress, generates, and the parser drops the injected item', async () => {
    const backend = new TransformersProposer('lethe-test/tiny-json-llm', { endpoint: hub.endpoint, cacheDir, maxNewTokens: 64 });
    const progress: string[] = [];
    const proposal = await propose('cat', 'object', { corefs: 8, retains: 8 }, backend, { onProgress: (p) => progress.push(`${p.phase}:${p.file ?? ''}`) });
    expect(proposal.source).toBe('transformers:lethe-test/tiny-json-llm');
    expect(proposal.corefs).toEqual([{ concept: 'kitty', certainty: 'High', source: 'transformers:lethe-test/tiny-json-llm' }]);
    expect(proposal.retains).toEqual([{ concept: 'dog', certainty: 'Normal', source: 'transformers:lethe-test/tiny-json-llm' }]);
    expect(proposal.notes.join(' ')).toMatch(/corefs\[1\] \(reads like an instruction/);
    expect(backend.lastGeneration).toMatchObject({ device: 'cpu', dtype: 'q4' });
    expect(progress).toContain('download:onnx/model_q4.onnx');
    expect(progress).toContain('generate:');
    expect(hub.log.some((e) => e.path === 'onnx/model_q4.onnx')).toBe(true);
  }, 120_000);

  test('a model that writes garbage is an error that shows the raw text', async () => {
    const backend = new TransformersProposer('lethe-test/tiny-garbage-llm', { endpoint: hub.endpoint, cacheDir, maxNewTokens: 24 });
    const error = await propose('cat', 'object', { corefs: 8, retains: 8 }, backend).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalReplyError);
    expect(backend.lastGeneration?.raw.length).toBeGreaterThan(0);
    expect((error as ProposalReplyError).raw).toBe(backend.lastGeneration?.raw);
  }, 120_000);

  test('a hub id that is not owner/name is refused', () => {
    expect(() => new TransformersProposer('not a repo')).toThrow(/hub id: expected "owner\/name"/);
  });
});
