"""CLIP's byte-level BPE for ASCII captions, reading a tokenizer folder's vocab.json and
merges.txt. Lethe's TypeScript tokenizer is the reference; a fixture written by the trainer is
checked against it in the test suite."""
import json
import os
import re

WORD = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")


class ClipBpe:
    def __init__(self, folder, length=77):
        with open(os.path.join(folder, 'vocab.json')) as f:
            self.vocab = json.load(f)
        lines = open(os.path.join(folder, 'merges.txt')).read().split('\n')
        merges = [tuple(l.split(' ')) for l in lines[1:] if l.strip()]
        self.rank = {m: i for i, m in enumerate(merges)}
        self.bos, self.eos = self.vocab['<|startoftext|>'], self.vocab['<|endoftext|>']
        self.length = length
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        symbols = list(word[:-1]) + [word[-1] + '</w>']
        while len(symbols) > 1:
            pairs = [(self.rank.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
            best, i = min(pairs)
            if best == 1 << 30:
                break
            a, b = symbols[i], symbols[i + 1]
            merged, j = [], 0
            while j < len(symbols):
                if j + 1 < len(symbols) and symbols[j] == a and symbols[j + 1] == b:
                    merged.append(a + b)
                    j += 2
                else:
                    merged.append(symbols[j])
                    j += 1
            symbols = merged
        ids = [self.vocab[s] for s in symbols]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        if not text.isascii():
            raise ValueError(f'clip_bpe handles ASCII captions only: {text!r}')
        ids = [self.bos]
        for word in WORD.findall(' '.join(text.lower().split())):
            ids.extend(self.bpe(word))
        ids = ids[:self.length - 1] + [self.eos]
        return ids + [self.eos] * (self.length - len(ids))
