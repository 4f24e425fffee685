/**
 * Says what to do about an error from an engine call (generate, erase, recipes, LoRA files).
 * Like describePackError, it works from the error's name and message only: that is all that
 * survives comlink. The panels show title, advice and the raw message, never only the console.
 */
import type { PackErrorView } from '../model/pack-error-advice.ts';
import { messageInWords } from './field-words.ts';

export type EngineErrorView = PackErrorView;

export type EngineCall = 'generate' | 'erase' | 'recipe' | 'lora-export' | 'lora-import' | 'measure';

const WHAT: Record<EngineCall, string> = {
  generate: 'The image could not be generated.',
  erase: 'The edit could not be computed.',
  recipe: 'The recipe could not be applied.',
  'lora-export': 'The LoRA could not be exported.',
  'lora-import': 'The LoRA file could not be applied.',
  measure: 'The edit could not be measured.',
};

export function describeEngineError(error: unknown, call: EngineCall): EngineErrorView {
  const name = typeof (error as { name?: unknown })?.name === 'string' ? (error as { name: string }).name : '';
  const message = typeof (error as { message?: unknown })?.message === 'string' ? (error as { message: string }).message : String(error);
  const view = (title: string, advice: string): EngineErrorView => ({ title, detail: message, advice });

  if (/no (model )?pack|pack (is )?not loaded|no model is loaded|load a (model )?pack/i.test(message))
    return view('No model pack is loaded.', 'Load a pack in the Model panel first (the built-in demo pack needs no download).');
  if (name === 'WebGpuUnavailableError' || /device (was )?lost|GPUDevice|WebGPU (is )?(not )?available/i.test(message))
    return view(`${WHAT[call]} The GPU is not usable right now.`, 'Try again: a lost device is re-acquired on the next action. If it keeps failing, reload the page.');
  // Refused before running: the message's own "What to do" names the size that fits here.
  if (name === 'PackDoesNotFitError') {
    const advice = /What to do: ([\s\S]*)$/.exec(message)?.[1] ?? 'Use a smaller image size.';
    return view(`${WHAT[call]} This model does not fit this GPU at that size; nothing was run.`, advice);
  }
  if (name === 'GpuOutOfMemoryError' || /out of memory|OutOfMemory|allocation failed|maxBufferSize|exceeds the maximum/i.test(message))
    return view(`${WHAT[call]} The GPU ran out of memory.`, 'Use a smaller image size, close other GPU-heavy tabs, or use a smaller pack.');
  if (name === 'NonFiniteError')
    return view(`${WHAT[call]} The model produced NaN or infinity.`, 'Lower the guidance or the edit strength (lambda up, erase scale down); float16 packs overflow more easily than float32 ones.');
  if (/ill-conditioned|needs lambda > 0|refinement .* stalled/i.test(message))
    return view(`${WHAT[call]} The closed-form system is too ill-conditioned to solve accurately.`, 'Raise lambda (UCE uses 0.5), or remove near-duplicate concepts.');
  if (/RealEra/.test(message) && /maxTries|could not|window/i.test(message))
    return view(`${WHAT[call]} RealEra could not draw samples inside the cosine window.`, 'Widen the window (raise S1, lower S2) or the radii D1/D2, or change the RealEra seed.');

  switch (call) {
    case 'recipe':
      if (name === 'FormatError' || /not JSON|expected "lethe-erasure-recipe"/.test(message))
        return view('This file is not a Lethe erasure recipe, or it is damaged.', 'Open a .json recipe saved by "Download recipe"; the message below names the field that is wrong.');
      if (/sha256|pack/i.test(message))
        return view('The recipe was made for a different model pack.', 'Load the pack the recipe names (its sha256 is in the file), then open the recipe again.');
      break;
    case 'lora-import':
      // Before the format check: the file's own name (".safetensors") is in every message.
      if (name === 'LoraBaseMismatchError' || /made for a different base model/.test(message))
        return view('The LoRA was made for a different base model.', 'SD 1.x LoRAs have 768-wide text inputs, SD 2.x 1024: load the pack of the model it was trained for.');
      if (name === 'FormatError' || /safetensors|header/i.test(message))
        return view('This file is not a LoRA safetensors file Lethe can read.', 'Open a .safetensors LoRA with diffusers/PEFT or kohya keys; the message below names the key or field that is wrong.');
      if (name === 'ShapeError' || /shape|width|dimension/i.test(message))
        return view('The LoRA does not fit this model pack.', 'It was probably trained for another base model (SD 1.x LoRAs have 768-wide text inputs, SD 2.x 1024): load the matching pack.');
      break;
    case 'lora-export':
      if (/no (current )?edit|nothing to export|imported/i.test(message))
        return view('There is no closed-form edit to export.', 'Press Erase first (an imported LoRA cannot be exported again).');
      break;
    case 'measure':
      if (/no (current )?edit/i.test(message)) return view('There is no edit to measure.', 'Press Erase (or open a recipe or LoRA) first.');
      break;
    default:
      break;
  }
  // The message itself names the field and what it should be: said once, as the advice.
  if (name === 'InputError' || name === 'FormatError') return { title: WHAT[call], advice: messageInWords(firstSentence(message)), detail: '' };
  return view(WHAT[call], 'Try again; if it keeps failing, reload the page and report the message below.');
}

function firstSentence(message: string): string {
  const line = message.split('\n')[0];
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
