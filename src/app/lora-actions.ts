import { saveBlob } from './downloads.ts';
import { importLoraEdit, RECOMPUTE_DELAY_MS } from './edit-actions.ts';
import { engineClient } from './engine-client.ts';
import { describeEngineError } from './engine-error-advice.ts';
import { loraExportOptions } from './lora-form.ts';
import { useStudio } from './store.ts';
import { activeEditId } from './studio-state.ts';

/** "Download LoRA": exports the current closed-form edit and saves the file. */
export async function exportLora(): Promise<void> {
  const { lora, updateLora } = useStudio.getState();
  let options;
  try {
    options = loraExportOptions(lora.form);
  } catch (error) {
    updateLora({ error: describeEngineError(error, 'lora-export') });
    return;
  }
  updateLora({ exporting: true, error: null });
  // The edit is fixed while the export runs (edits and exports share the engine's queue).
  const editId = activeEditId(useStudio.getState().edit.active);
  try {
    const result = await engineClient().exportLora(options);
    saveBlob(new Blob([result.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), result.fileName);
    const { bytes, ...rest } = result;
    updateLora({ exported: { ...rest, bytes: bytes.byteLength, options: `${options.convention}, rank ${options.rank}, ${options.dtype}`, editId } });
  } catch (error) {
    updateLora({ error: describeEngineError(error, 'lora-export') });
  } finally {
    updateLora({ exporting: false });
  }
}

/** "Open LoRA": reads the file and applies it at the strength slider's value. */
export async function openLora(file: File): Promise<void> {
  const { updateLora } = useStudio.getState();
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    updateLora({ error: describeEngineError(error, 'lora-import') });
    return;
  }
  updateLora({ file: { name: file.name, bytes }, error: null });
  await importLoraEdit(bytes, file.name, useStudio.getState().lora.form.strength);
}

let strengthTimer: ReturnType<typeof setTimeout> | null = null;

/** Moves the strength slider; while the opened LoRA is the current edit, it is re-applied once the slider settles. */
export function setLoraStrength(strength: number): void {
  const { updateLora } = useStudio.getState();
  updateLora((l) => ({ form: { ...l.form, strength } }));
  const { lora, edit } = useStudio.getState();
  if (!lora.file || edit.active?.kind !== 'lora') return;
  if (strengthTimer !== null) clearTimeout(strengthTimer);
  strengthTimer = setTimeout(() => {
    strengthTimer = null;
    const { lora: now } = useStudio.getState();
    if (now.file) void importLoraEdit(now.file.bytes, now.file.name, now.form.strength);
  }, RECOMPUTE_DELAY_MS);
}
