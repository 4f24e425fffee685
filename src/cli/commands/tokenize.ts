import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CliCommand } from '../command.ts';
import { UsageError } from '../command.ts';
import { parseFlags, requireFlag } from '../flags.ts';
import { loadClipTokenizer } from '../../pipeline/tokenizer/clip-tokenizer.ts';
import { InputNotFoundError } from '../../util/errors.ts';
import { readInputText } from '../input-file.ts';

export const tokenizeCommand: CliCommand = {
  name: 'tokenize',
  summary: 'print the 77 CLIP token ids of each text, as diffusers would feed them',
  usage: 'lethe tokenize --tokenizer DIR TEXT... (DIR holds vocab.json, merges.txt, tokenizer_config.json)',
  async run(args) {
    const { values, positionals } = parseFlags(args, { tokenizer: { type: 'string' } }, true);
    const dir = requireFlag(values.tokenizer, '--tokenizer');
    if (positionals.length === 0) throw new UsageError('give at least one TEXT to tokenize');
    const read = (name: string) => {
      const path = join(dir, name);
      if (!existsSync(path)) throw new InputNotFoundError(`--tokenizer ${dir}: ${name} is missing (a CLIP tokenizer folder has vocab.json, merges.txt and tokenizer_config.json)`);
      return readInputText(path, '--tokenizer');
    };
    const special = join(dir, 'special_tokens_map.json');
    const tokenizer = loadClipTokenizer({
      vocabJson: read('vocab.json'),
      mergesTxt: read('merges.txt'),
      tokenizerConfigJson: read('tokenizer_config.json'),
      ...(existsSync(special) ? { specialTokensMapJson: readInputText(special, '--tokenizer') } : {}),
    });
    for (const text of positionals) console.log(JSON.stringify(Array.from(tokenizer.encode(text))));
    return 0;
  },
};
