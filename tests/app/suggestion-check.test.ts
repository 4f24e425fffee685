import { describe, expect, test } from 'vitest';
import { applyEncoderCheck, encoderCheckNote } from '../../src/app/suggestion-check.ts';
import type { EncoderCheck } from '../../src/erasure/proposer/encoder-check.ts';

const check: EncoderCheck = {
  concept: 'cat',
  candidates: [
    { concept: 'kitty', similarity: 0.75, nearestKept: { concept: 'fox', similarity: 0.56 }, confirmed: true },
    { concept: 'Siamese', similarity: 0.29, nearestKept: { concept: 'mouse', similarity: 0.71 }, confirmed: false },
  ],
};

describe('suggested corefs after the encoder check', () => {
  test('a doubted chip is unticked with the reason; a confirmed or unchecked one stays as it was', () => {
    const chips = [
      { concept: 'kitty', chosen: true, modelNote: null, certainty: 'Normal' },
      { concept: 'Siamese', chosen: true, modelNote: null, certainty: 'Normal' },
      { concept: 'ocelot', chosen: false, modelNote: null, certainty: 'Low' },
    ];
    const after = applyEncoderCheck(chips, check);
    expect(after.map((c) => c.chosen)).toEqual([true, false, false]);
    expect(after[1].modelNote).toBe(`this model's text encoder puts "Siamese" nearer "mouse" (0.71) than "cat" (0.29): erasing it would move a kept concept`);
    expect(after[0].modelNote).toBeNull();
    expect(after[2]).toEqual(chips[2]);
    expect(after[1].certainty).toBe('Normal');
  });

  test('the note counts the doubted corefs, or says every one was confirmed', () => {
    expect(encoderCheckNote(check, 'the loaded model')).toBe(
      `1 of 2 suggested corefs unticked: the loaded model's text encoder puts them nearer a kept concept than "cat" (tick one to erase it anyway)`,
    );
    expect(encoderCheckNote({ concept: 'cat', candidates: [check.candidates[0]] }, 'the loaded model')).toBe(
      `the loaded model's text encoder puts every suggested coref nearer "cat" than any kept concept`,
    );
  });
});
