import { describe, expect, test } from 'vitest';
import { UsageError } from '../../src/cli/command.ts';
import { DEFAULT_TOKENS, parseEraseArgs, parsePreserveList } from '../../src/cli/commands/erase-args.ts';
import { InputError } from '../../src/util/errors.ts';

const files: Record<string, string> = {
  'keep.txt': '# things to keep\r\ncat\n\n  horse  \n# van gogh is not a comment target\nship\n',
  'empty.txt': '# nothing\n\n',
};
const readText = (path: string): string => {
  if (!(path in files)) throw new Error(`ENOENT: no such file '${path}'`);
  return files[path];
};
const parse = (line: string[]) => parseEraseArgs(line, readText);
const base = ['--pack', 'packs/sd15', '--out', 'r.json'];

function usageError(line: string[]): string {
  try {
    parse(line);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`expected a UsageError for ${line.join(' ')}`);
}

describe('lethe erase arguments', () => {
  test('the smallest call: one concept, UCE, the default token mode', () => {
    expect(parse([...base, '--concept', 'dog'])).toEqual({
      pack: 'packs/sd15',
      out: 'r.json',
      request: { concepts: { targets: [{ concept: 'dog', corefs: [] }], retains: [], preserve: [] }, method: 'uce', tokens: DEFAULT_TOKENS },
    });
    expect(DEFAULT_TOKENS).toBe('subject');
  });

  test('everything: anchors and corefs belong to the concept before them; --flag=value works', () => {
    const got = parse([
      ...base,
      '--concept', 'van gogh', '--coref', 'vincent', '--coref=starry night',
      '--concept', 'monet', '--anchor', 'a painter',
      '--retain', 'picasso', '--retain', 'rembrandt',
      '--preserve-file', 'keep.txt',
      '--kind', 'style', '--method=realera', '--lambda', '0.25', '--seed', '4294967295', '--tokens', 'last',
      '--weights', 'w.safetensors', '--dump', 'v.safetensors',
    ]);
    expect(got).toEqual({
      pack: 'packs/sd15',
      out: 'r.json',
      weights: 'w.safetensors',
      dump: 'v.safetensors',
      request: {
        concepts: {
          kind: 'style',
          targets: [
            { concept: 'van gogh', corefs: ['vincent', 'starry night'] },
            { concept: 'monet', anchor: 'a painter', corefs: [] },
          ],
          retains: ['picasso', 'rembrandt'],
          preserve: ['cat', 'horse', 'ship'],
        },
        method: 'realera',
        tokens: 'last',
        realera: { seed: 4294967295 },
        closedForm: { lambda: 0.25 },
      },
    });
    // RealEra without --seed: the request's default seed (0) applies.
    expect(parse([...base, '--concept', 'dog', '--method', 'realera']).request.realera).toEqual({});
  });

  test('--erase-scale and --preserve-scale go into closedForm; unset ones stay the method default', () => {
    expect(parse([...base, '--concept', 'dog', '--preserve-scale', '10']).request.closedForm).toEqual({ preserveScale: 10 });
    expect(parse([...base, '--concept', 'dog', '--erase-scale=2', '--preserve-scale', '0.5', '--lambda', '1']).request.closedForm).toEqual({ lambda: 1, eraseScale: 2, preserveScale: 0.5 });
    expect(parse([...base, '--concept', 'dog']).request.closedForm).toBeUndefined();
  });

  test('--shared-rows free constrains concept rows only (as published); unset leaves the engine default (keep)', () => {
    expect(parse([...base, '--concept', 'dog', '--shared-rows', 'free']).request.sharedRows).toBe('free');
    expect(parse([...base, '--concept', 'dog', '--shared-rows=keep']).request.sharedRows).toBe('keep');
    expect(parse([...base, '--concept', 'dog']).request.sharedRows).toBeUndefined();
    expect(usageError([...base, '--concept', 'dog', '--shared-rows', 'some'])).toBe('--shared-rows: expected one of keep|free, got "some"');
  });

  test('preserve files: one concept a line, # comment lines and blank lines skipped', () => {
    expect(parsePreserveList('a\r\n # c\n\n b c \n#d')).toEqual(['a', 'b c']);
    expect(usageError([...base, '--concept', 'dog', '--preserve-file', 'missing.txt'])).toMatch(/--preserve-file: cannot read "missing.txt": ENOENT/);
    expect(usageError([...base, '--concept', 'dog', '--preserve-file', 'empty.txt'])).toMatch(/--preserve-file: "empty.txt" lists no concepts/);
  });

  test('bad flags name the flag and what it takes', () => {
    const dog = [...base, '--concept', 'dog'];
    expect(usageError([...dog, '--kind', 'animal'])).toBe('--kind: expected one of object|style|person, got "animal"');
    expect(usageError([...dog, '--method', 'esd'])).toBe('--method: expected one of uce|realera, got "esd"');
    expect(usageError([...dog, '--tokens', 'first'])).toBe('--tokens: expected one of last|subject|all, got "first"');
    for (const lambda of ['0', '-1', 'abc', '', 'Infinity']) expect(usageError([...dog, `--lambda=${lambda}`])).toMatch(/^--lambda: expected a number > 0/);
    for (const flag of ['erase-scale', 'preserve-scale'])
      for (const scale of ['0', '-2', 'x', 'NaN']) expect(usageError([...dog, `--${flag}=${scale}`])).toMatch(new RegExp(`^--${flag}: expected a number > 0 \\(.*\\), got "${scale}"`));
    expect(usageError([...dog, '--seed', '3'])).toMatch(/^--seed: .*needs --method realera/);
    for (const seed of ['1.5', '-1', '4294967296', 'x']) expect(usageError([...dog, '--method', 'realera', `--seed=${seed}`])).toMatch(/^--seed: expected an integer in \[0, 4294967295\]/);
    expect(usageError([...dog, '--colour', 'red'])).toMatch(/^unknown flag --colour; expected one of --pack, --concept/);
    expect(usageError([...dog, '--anchor'])).toBe('--anchor needs a value');
    expect(usageError([...dog, '--anchor', '--retain', 'cat'])).toBe('--anchor needs a value');
    expect(usageError([...dog, 'cat'])).toMatch(/unexpected argument "cat"/);
    expect(usageError([...base, '--anchor', 'cat', '--concept', 'dog'])).toMatch(/--anchor "cat" comes before any --concept/);
    expect(usageError([...base, '--coref', 'puppy', '--concept', 'dog'])).toMatch(/--coref "puppy" comes before any --concept/);
    expect(usageError([...dog, '--anchor', 'cat', '--anchor', 'fox'])).toMatch(/--anchor given twice for --concept "dog"/);
    expect(usageError([...dog, '--pack', 'other'])).toMatch(/--pack given twice/);
    expect(usageError(['--out', 'r.json', '--concept', 'dog'])).toMatch(/^--pack is required/);
    expect(usageError(['--pack', 'p', '--concept', 'dog'])).toMatch(/^--out is required/);
    expect(usageError(base)).toMatch(/^--concept is required/);
  });

  test('an inconsistent concept set fails before any pack is loaded', () => {
    expect(() => parse([...base, '--concept', 'dog', '--retain', 'dog'])).toThrow(InputError);
    expect(() => parse([...base, '--concept', 'dog', '--anchor', 'dog'])).toThrow(/anchor/);
  });
});
