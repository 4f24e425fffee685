import { describe, expect, test } from 'vitest';
import { parseManifest, serializeManifest, type PackManifest } from '../../src/model/manifest.ts';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { makeTinyPack } from './tiny-pack.ts';

const FILE = 'pack/manifest.json';
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const BASE_TEXT = makeTinyPack().manifestText;

function baseJson(): { [key: string]: Json } {
  return JSON.parse(BASE_TEXT) as { [key: string]: Json };
}

function expectFormatError(run: () => unknown, field: string, detail: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FormatError);
  const error = caught as FormatError;
  expect(error.file).toBe(FILE);
  expect(error.field).toBe(field);
  expect(error.detail).toMatch(detail);
}

type Edit = (m: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any -- test edits reach anywhere

describe('parseManifest', () => {
  test('the tiny pack parses and survives serialize -> parse unchanged', () => {
    const { manifestText, manifest } = makeTinyPack();
    const parsed = parseManifest(manifestText, FILE);
    expect(parsed).toEqual(manifest);
    expect(parseManifest(serializeManifest(parsed), FILE)).toEqual(parsed);
    expect(Object.getPrototypeOf(parsed.files)).toBe(null);
    expect(parsed.crossAttention[1].toK.shape).toEqual([32, 32]);
  });

  test('uppercase hashes are accepted and stored lowercase', () => {
    const json = baseJson();
    const entry = (json.files as Record<string, { sha256: string }>)['unet/up.onnx'];
    const lower = entry.sha256;
    entry.sha256 = lower.toUpperCase();
    expect(parseManifest(JSON.stringify(json), FILE).files['unet/up.onnx'].sha256).toBe(lower);
  });

  const bad: [string, Edit, string, RegExp][] = [
    ['wrong format', (m) => (m.format = 'other-pack'), 'format', /expected "lethe-pack"/],
    ['future version', (m) => (m.version = 2), 'version', /reads version 1, got number 2/],
    ['unknown family', (m) => (m.family = 'sdxl'), 'family', /expected one of "sd15"/],
    ['unknown dtype', (m) => (m.dtype = 'bf16'), 'dtype', /"fp32", "fp16"/],
    ['unknown top-level field', (m) => (m.extra = 1), 'extra', /unknown field/],
    ['missing dims', (m) => delete m.dims, 'dims', /missing/],
    ['textTokens not 77', (m) => (m.dims.textTokens = 76), 'dims.textTokens', /77/],
    ['fractional channels', (m) => (m.dims.unetChannels[1] = 1.5), 'dims.unetChannels[1]', /integer/],
    ['zero scaling factor', (m) => (m.dims.latentScalingFactor = 0), 'dims.latentScalingFactor', /\(0, 1000\]/],
    ['sd15 with tiny width', (m) => (m.family = 'sd15'), 'dims.textHidden', /sd15 has 768, got 32/],
    ['path with ..', (m) => (m.files['../secret'] = { sha256: 'a'.repeat(64), bytes: 1 }), 'files["../secret"]', /contains "\.\."/],
    ['absolute path', (m) => (m.files['/etc/passwd'] = { sha256: 'a'.repeat(64), bytes: 1 }), 'files["/etc/passwd"]', /absolute/],
    ['backslash path', (m) => (m.files['unet\\x.onnx'] = { sha256: 'a'.repeat(64), bytes: 1 }), 'files["unet\\\\x.onnx"]', /backslash/],
    ['drive letter', (m) => (m.files['C:x'] = { sha256: 'a'.repeat(64), bytes: 1 }), 'files["C:x"]', /drive letter/],
    ['empty segment', (m) => (m.files['unet//x'] = { sha256: 'a'.repeat(64), bytes: 1 }), 'files["unet//x"]', /empty segment/],
    ['manifest lists itself', (m) => (m.files['manifest.json'] = { sha256: 'a'.repeat(64), bytes: 1 }), 'files["manifest.json"]', /itself/],
    ['short sha', (m) => (m.files['unet/up.onnx'].sha256 = 'a'.repeat(63)), 'files["unet/up.onnx"].sha256', /64 hex/],
    ['non-hex sha', (m) => (m.files['unet/up.onnx'].sha256 = 'g'.repeat(64)), 'files["unet/up.onnx"].sha256', /64 hex/],
    ['negative size', (m) => (m.files['unet/up.onnx'].bytes = -1), 'files["unet/up.onnx"].bytes', /integer in \[0,/],
    ['unsafe size', (m) => (m.files['unet/up.onnx'].bytes = 2 ** 53), 'files["unet/up.onnx"].bytes', /integer/],
    ['size as string', (m) => (m.files['unet/up.onnx'].bytes = '12'), 'files["unet/up.onnx"].bytes', /got "12"/],
    ['extra field in a file entry', (m) => (m.files['unet/up.onnx'].etag = 'x'), 'files["unet/up.onnx"].etag', /unknown field/],
    ['piece file not in files', (m) => (m.pieces[1].file = 'unet/missing.onnx'), 'pieces[1].file', /"unet\/missing.onnx" has no entry in files/],
    ['external data not in files', (m) => (m.pieces[0].externalData = ['unet/other.data']), 'pieces[0].externalData[0]', /no entry in files/],
    ['prototype key as a path', (m) => (m.vaeDecoder.file = 'constructor'), 'vaeDecoder.file', /no entry in files/],
    ['scheduler config absent from files', (m) => delete m.files['scheduler/scheduler_config.json'], 'scheduler.config', /no entry/],
    ['tokenizer without merges', (m) => delete m.tokenizer.merges, 'tokenizer', /tokenizerJson, or both vocab and merges/],
    ['duplicate piece name', (m) => (m.pieces[1].name = 'down'), 'pieces[1].name', /appears twice/],
    ['no pieces', (m) => (m.pieces = []), 'pieces', /1 to 64 elements, got 0/],
    ['bad symbolic dim', (m) => (m.pieces[0].inputs[0].shape[0] = '9x'), 'pieces[0].inputs[0].shape[0]', /identifier/],
    ['zero dim', (m) => (m.pieces[0].inputs[0].shape[1] = 0), 'pieces[0].inputs[0].shape[1]', /integer in \[1,/],
    ['unknown tensor dtype', (m) => (m.textEncoder.inputs[0].dtype = 'uint8'), 'textEncoder.inputs[0].dtype', /float32/],
    ['duplicate input name', (m) => (m.pieces[1].inputs[1].name = 'down_0'), 'pieces[1].inputs[1].name', /appears twice/],
    ['layer out of order', (m) => (m.crossAttention[1].index = 5), 'crossAttention[1].index', /expected 1/],
    ['bad module path', (m) => (m.crossAttention[0].module = 'down_blocks.0.attn2'), 'crossAttention[0].module', /diffusers attn2/],
    ['duplicate module', (m) => {
      m.crossAttention[1].module = m.crossAttention[0].module;
      m.crossAttention[1].toK.name = m.crossAttention[0].toK.name;
      m.crossAttention[1].toV.name = m.crossAttention[0].toV.name;
    }, 'crossAttention[1].module', /appears twice/],
    ['weight name not the module\'s', (m) => (m.crossAttention[0].toV.name = 'x.to_v.weight'), 'crossAttention[0].toV.name', /to_v.weight/],
    ['projection input width', (m) => (m.crossAttention[0].toK.shape = [16, 768]), 'crossAttention[0].toK.shape[1]', /dims.textHidden \(32\)/],
    ['heads do not divide width', (m) => (m.crossAttention[0].heads = 3), 'crossAttention[0].toK.shape[0]', /not divisible by heads \(3\)/],
    ['layer names a missing piece', (m) => (m.crossAttention[0].piece = 'mid'), 'crossAttention[0].piece', /no piece is named "mid"/],
    ['kInput not k_<index>', (m) => (m.crossAttention[0].kInput = 'k_1'), 'crossAttention[0].kInput', /"k_0"/],
    ['layer in a piece without its inputs', (m) => (m.crossAttention[0].piece = 'up'), 'crossAttention[0].kInput', /piece "up" has no input "k_0"/],
    ['K input width differs from to_k', (m) => (m.pieces[0].inputs[2].shape[2] = 17), 'crossAttention[0].kInput', /expected \[\.\.\., tokens, 16\]/],
    ['integer K input', (m) => (m.pieces[0].inputs[3].dtype = 'int64'), 'crossAttention[0].vInput', /expected a float type/],
    ['unclaimed k_ input', (m) => m.pieces[1].inputs.push({ name: 'k_7', shape: [1], dtype: 'float32' }), 'pieces[1].inputs[3].name', /not the kInput\/vInput/],
    ['meta with a number', (m) => (m.meta.version = 3), 'meta.version', /expected a string/],
  ];

  test.each(bad)('%s', (_label, edit, field, detail) => {
    const json = baseJson();
    edit(json);
    expectFormatError(() => parseManifest(JSON.stringify(json), FILE), field, detail);
  });

  test.each([
    ['{', '(json)', /not valid JSON/],
    ['', '(json)', /not valid JSON/],
    ['[]', '(root)', /expected an object, got an array of 0/],
    ['null', '(root)', /got null/],
    ['"lethe-pack"', '(root)', /expected an object/],
  ])('text %j', (text, field, detail) => {
    expectFormatError(() => parseManifest(text, FILE), field, detail);
  });

  test('"__proto__" as a file path is an ordinary rejected key, not a prototype', () => {
    const text = BASE_TEXT.replace('"files": {', '"files": {"__proto__": {"sha256": "' + 'b'.repeat(64) + '", "bytes": 1},');
    // __proto__ is a valid segment by the path rules; it must become a plain entry without touching prototypes.
    const parsed = parseManifest(text, FILE);
    expect(Object.hasOwn(parsed.files, '__proto__')).toBe(true);
    expect(parsed.files['__proto__' as string].bytes).toBe(1);
  });
});

/**
 * Seeded random mutations of a valid manifest, of its JSON values and of its text. Every case
 * must end in a valid manifest or a FormatError naming the file, never another exception; valid
 * results must survive serialize -> parse unchanged.
 */
describe('parseManifest under random mutation', () => {
  const SPECIAL: Json[] = [null, true, false, 0, -1, 1, 1.5, 77, 2 ** 53, -0, 1e308, '', 'x', '../x', '/abs', 'a\\b', 'k_0', 'down', 'sd15',
    'a'.repeat(64), 'unet/up.onnx', [], [1], {}, { name: 'x' }];

  function randomValue(rng: SeededRandom): Json {
    return structuredClone(SPECIAL[Math.floor(rng.uniform() * SPECIAL.length)]);
  }

  /** Every container in the tree with one of its keys. */
  function slots(root: Json): { parent: Json[] | { [key: string]: Json }; key: string | number }[] {
    const out: { parent: Json[] | { [key: string]: Json }; key: string | number }[] = [];
    const visit = (node: Json): void => {
      if (Array.isArray(node)) node.forEach((child, i) => (out.push({ parent: node, key: i }), visit(child)));
      else if (node && typeof node === 'object') for (const key of Object.keys(node)) (out.push({ parent: node, key }), visit(node[key]));
    };
    visit(root);
    return out;
  }

  function mutateValue(json: Json, rng: SeededRandom): void {
    const all = slots(json);
    const { parent, key } = all[Math.floor(rng.uniform() * all.length)];
    const action = Math.floor(rng.uniform() * 6);
    if (Array.isArray(parent)) {
      const i = key as number;
      if (action === 0) parent.splice(i, 1);
      else if (action === 1) parent.splice(i, 0, structuredClone(parent[i]));
      else if (action === 2 && parent.length > 1) [parent[0], parent[i]] = [parent[i], parent[0]];
      else parent[i] = randomValue(rng);
    } else {
      const k = key as string;
      if (action === 0) delete parent[k];
      else if (action === 1) parent[`${k}_extra`] = randomValue(rng);
      else if (action === 2) {
        // rename the key, which turns file paths into other paths
        const value = parent[k];
        delete parent[k];
        parent[rng.uniform() < 0.5 ? `${k}x` : k.replace(/\//g, rng.uniform() < 0.5 ? '\\' : '/../')] = value;
      } else parent[k] = randomValue(rng);
    }
  }

  function mutateText(text: string, rng: SeededRandom): string {
    const at = Math.floor(rng.uniform() * text.length);
    const span = 1 + Math.floor(rng.uniform() * 20);
    switch (Math.floor(rng.uniform() * 5)) {
      case 0: return text.slice(0, at);
      case 1: return text.slice(0, at) + text.slice(at + span);
      case 2: return text.slice(0, at) + String.fromCharCode(rng.nextUint32() & 0x7f) + text.slice(at + 1);
      case 3: return text.slice(0, at) + text.slice(at, at + span) + text.slice(at);
      default: return text.slice(0, at) + '"\\u0000",{}[]:0-e9'.charAt(rng.nextUint32() % 18) + text.slice(at);
    }
  }

  function check(text: string, outcomes: { valid: number; invalid: number }): void {
    let parsed: PackManifest;
    try {
      parsed = parseManifest(text, FILE);
    } catch (error) {
      if (!(error instanceof FormatError)) throw new Error(`non-FormatError ${String(error)} for ${text.slice(0, 2000)}`);
      expect(error.file).toBe(FILE);
      outcomes.invalid++;
      return;
    }
    expect(parseManifest(serializeManifest(parsed), FILE)).toEqual(parsed);
    outcomes.valid++;
  }

  test('value mutations: 1500 cases, 1 to 3 edits each', () => {
    const rng = new SeededRandom(2024);
    const outcomes = { valid: 0, invalid: 0 };
    for (let trial = 0; trial < 1500; trial++) {
      const json = baseJson();
      const edits = 1 + Math.floor(rng.uniform() * 3);
      for (let e = 0; e < edits; e++) mutateValue(json, rng);
      check(JSON.stringify(json), outcomes);
    }
    expect(outcomes.invalid).toBeGreaterThan(1000);
    expect(outcomes.valid).toBeGreaterThan(0); // e.g. meta edits, swapped dims, renamed unreferenced files
  });

  test('text mutations: 1500 cases', () => {
    const rng = new SeededRandom(7);
    const base = BASE_TEXT;
    const outcomes = { valid: 0, invalid: 0 };
    for (let trial = 0; trial < 1500; trial++) check(mutateText(base, rng), outcomes);
    expect(outcomes.invalid).toBeGreaterThan(1000);
    expect(outcomes.valid).toBeGreaterThan(0); // whitespace edits and harmless digits
  });
});
