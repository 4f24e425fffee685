import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { DEFAULT_COREFS, DEFAULT_RETAINS, proposeCommand } from '../../../src/cli/commands/propose.ts';
import { UsageError } from '../../../src/cli/command.ts';
import { formatProposal } from '../../../src/erasure/proposer/format.ts';
import { propose } from '../../../src/erasure/proposer/propose.ts';
import { defaultWordNetLoader } from '../../../src/erasure/proposer/wordnet-loader.ts';
import { WordNetProposer } from '../../../src/erasure/proposer/wordnet-proposer.ts';
import { HubServer } from '../../support/hub-server.ts';
import { forgeTinyLlm, TINY_REPLY } from './tiny-llm.ts';

async function runCli(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await proposeCommand.run(args);
    return { code, out: lines.join('\n') };
  } finally {
    log.mockRestore();
  }
}

describe('lethe propose', () => {
  afterEach(() => vi.restoreAllMocks());

  test('prints what propose() gives the studio for the same backend and limits', async () => {
    const { code, out } = await runCli(['cat']);
    expect(code).toBe(0);
    const expected = await propose('cat', 'object', { corefs: DEFAULT_COREFS, retains: DEFAULT_RETAINS }, new WordNetProposer(defaultWordNetLoader()));
    expect(out).toBe(formatProposal(expected));
    expect(out).toMatch(/^ {2}Very High {2}1\.0 {2}true cat$/m);
    expect(out).toMatch(/^ {2}Normal {5}0\.6 {2}dog$/m);
  });

  test("--pack checks the corefs against that model's text encoder: on the concept world, words its captions used pass and unseen ones are doubted", async () => {
    const { code, out } = await runCli(['cat', '--pack', 'public/concept-world/pack', '--json']);
    expect(code).toBe(0);
    const parsed = JSON.parse(out);
    const verdicts = Object.fromEntries(parsed.encoderCheck.candidates.map((c: { concept: string; confirmed: boolean }) => [c.concept, c.confirmed]));
    expect(parsed.encoderCheck.candidates.map((c: { concept: string }) => c.concept)).toEqual(parsed.corefs.map((c: { concept: string }) => c.concept));
    // "kitty" is one of the concept world's own synonyms for cat; "Siamese" and "ocelot" never appear in its captions.
    expect(verdicts).toMatchObject({ kitty: true, 'house cat': true, Siamese: false, ocelot: false });
    const text = await runCli(['cat', '--pack', 'public/concept-world/pack']);
    expect(text.out).toContain(`corefs as pack ${parsed.encoderCheck.pack.slice(0, 12)}'s text encoder sees them`);
    expect(text.out).toMatch(/^ {2}doubtful {2}0\.\d\d \/ 0\.\d\d \w+ +Siamese$/m);
  }, 120_000);

  test('--json, --corefs, --retains and a multi-word concept', async () => {
    const { out } = await runCli(['house', 'cat', '--corefs', '3', '--retains', '2', '--json']);
    const parsed = JSON.parse(out);
    expect(parsed.concept).toBe('house cat');
    expect(parsed.corefs).toHaveLength(3);
    expect(parsed.retains).toHaveLength(2);
    expect(parsed).toEqual(await propose('house cat', 'object', { corefs: 3, retains: 2 }, new WordNetProposer(defaultWordNetLoader())));
  });

  test('a style is refused honestly by WordNet', async () => {
    const { code, out } = await runCli(['Van Gogh', '--kind', 'style']);
    expect(code).toBe(0);
    expect(out).toMatch(/corefs \(erased with it\):\n {2}\(none\)/);
    expect(out).toMatch(/note: WordNet cannot know an artist/);
  });

  test('bad flags are usage errors', async () => {
    await expect(runCli([])).rejects.toThrow(UsageError);
    await expect(runCli(['cat', '--backend', 'gpt'])).rejects.toThrow(/--backend: expected wordnet, prompt-api or transformers:OWNER\/NAME, got "gpt"/);
    await expect(runCli(['cat', '--corefs', '99'])).rejects.toThrow(/--corefs must be an integer in \[0, 32\]/);
    await expect(runCli(['cat', '--backend', 'prompt-api'])).rejects.toThrow(/only in the browser/);
  });

  describe('--backend transformers:HUB_ID', () => {
    let hub: HubServer;
    let cache: string;
    const previousCache = process.env.LETHE_CACHE_DIR;
    beforeAll(async () => {
      cache = mkdtempSync(join(tmpdir(), 'lethe-propose-cli-'));
      process.env.LETHE_CACHE_DIR = cache;
      hub = await HubServer.start();
      hub.setRepo('lethe-test/cli-llm', forgeTinyLlm({ reply: TINY_REPLY }));
    });
    afterAll(async () => {
      await hub?.close();
      if (previousCache === undefined) delete process.env.LETHE_CACHE_DIR;
      else process.env.LETHE_CACHE_DIR = previousCache;
      rmSync(cache, { recursive: true, force: true });
    });

    test('runs the hub model and prints its parsed suggestions', async () => {
      const { code, out } = await runCli(['cat', '--backend', 'transformers:lethe-test/cli-llm', '--endpoint', hub.endpoint, '--json']);
      expect(code).toBe(0);
      const parsed = JSON.parse(out);
      expect(parsed.source).toBe('transformers:lethe-test/cli-llm');
      expect(parsed.corefs.map((s: { concept: string }) => s.concept)).toEqual(['kitty']);
      expect(parsed.retains.map((s: { concept: string }) => s.concept)).toEqual(['dog']);
      expect(hub.log.some((e) => e.path === 'onnx/model_q4.onnx')).toBe(true);
    }, 120_000);
  });
});
