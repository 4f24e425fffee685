import { isTextEncoderModule, isUnetModule, kohyaFlatName, textEncoderModuleFromKohya, unetModuleFromKohya } from './module-grammar.ts';

export type LoraConvention = 'diffusers' | 'kohya';

/** What a key holds: a LoRA factor, kohya's alpha, a full weight difference, or something else. */
export type LoraKeyRole = 'down' | 'up' | 'alpha' | 'diff' | 'other';

export interface LoraKeyInfo {
  readonly key: string;
  /** null when the key follows neither convention. */
  readonly convention: LoraConvention | null;
  readonly component: 'unet' | 'text_encoder' | null;
  /** Diffusers dotted module path (no `unet.` prefix), or null when it is not a known module. */
  readonly module: string | null;
  readonly role: LoraKeyRole;
}

// kohya: lora_unet_<flat>.lora_down.weight / .lora_up.weight / .alpha / .diff (or <flat>_diff)
const KOHYA = /^lora_(unet|te[12]?)_([^.]+)(?:\.(.+))?$/;
const KOHYA_ROLES: Readonly<Record<string, LoraKeyRole>> = { 'lora_down.weight': 'down', 'lora_up.weight': 'up', alpha: 'alpha', diff: 'diff' };

// diffusers / PEFT, with the older diffusers spellings that still circulate.
const DIFFUSERS_PREFIXES: readonly [string, 'unet' | 'text_encoder'][] = [
  ['unet.', 'unet'],
  ['base_model.model.', 'unet'],
  ['text_encoder.', 'text_encoder'],
  ['text_encoder_2.', 'text_encoder'],
];
const DIFFUSERS_SUFFIXES: readonly [RegExp, LoraKeyRole][] = [
  [/\.lora_A(?:\.[A-Za-z0-9_-]+)?\.weight$/, 'down'], // PEFT, optionally with the adapter name
  [/\.lora_B(?:\.[A-Za-z0-9_-]+)?\.weight$/, 'up'],
  [/\.lora\.down\.weight$/, 'down'],
  [/\.lora\.up\.weight$/, 'up'],
  [/\.lora_down\.weight$/, 'down'],
  [/\.lora_up\.weight$/, 'up'],
  [/\.alpha$/, 'alpha'],
  [/\.diff$/, 'diff'],
];
// diffusers attention processors: <attn>.processor.to_k_lora.down.weight
const PROCESSOR = /^(.*)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/;

/** Classifies one tensor key of a LoRA file. */
export function describeLoraKey(key: string): LoraKeyInfo {
  const kohya = KOHYA.exec(key);
  if (kohya) {
    const component = kohya[1] === 'unet' ? 'unet' : 'text_encoder';
    let flat = kohya[2];
    let role: LoraKeyRole = kohya[3] === undefined ? 'other' : (KOHYA_ROLES[kohya[3]] ?? 'other');
    if (kohya[3] === undefined && flat.endsWith('_diff')) {
      flat = flat.slice(0, -'_diff'.length);
      role = 'diff';
    }
    const module = component === 'unet' ? unetModuleFromKohya(flat) : textEncoderModuleFromKohya(flat);
    return { key, convention: 'kohya', component, module, role };
  }

  let rest = key;
  let component: 'unet' | 'text_encoder' | null = null;
  for (const [prefix, part] of DIFFUSERS_PREFIXES)
    if (rest.startsWith(prefix)) {
      rest = rest.slice(prefix.length);
      component = part;
      break;
    }
  let role: LoraKeyRole = 'other';
  const processor = PROCESSOR.exec(rest);
  if (processor) {
    rest = `${processor[1]}.${processor[2] === 'to_out' ? 'to_out.0' : processor[2]}`;
    role = processor[3] === 'down' ? 'down' : 'up';
  } else
    for (const [suffix, suffixRole] of DIFFUSERS_SUFFIXES) {
      const match = suffix.exec(rest);
      if (match) {
        rest = rest.slice(0, match.index);
        role = suffixRole;
        break;
      }
    }
  if ((component === null || component === 'unet') && isUnetModule(rest)) return { key, convention: 'diffusers', component: 'unet', module: rest, role };
  if ((component === null || component === 'text_encoder') && isTextEncoderModule(rest))
    return { key, convention: 'diffusers', component: 'text_encoder', module: rest, role };
  return { key, convention: component === null ? null : 'diffusers', component, module: null, role };
}

/** The keys writeLora uses for one module. */
export function loraKeys(module: string, convention: LoraConvention): { down: string; up: string; alpha: string | null } {
  if (convention === 'diffusers') return { down: `unet.${module}.lora_A.weight`, up: `unet.${module}.lora_B.weight`, alpha: null };
  const base = `lora_unet_${kohyaFlatName(module)}`;
  return { down: `${base}.lora_down.weight`, up: `${base}.lora_up.weight`, alpha: `${base}.alpha` };
}
