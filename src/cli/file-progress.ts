/** One stderr line per file as a pack is written: `[3/12] unet/mid.onnx`. */
export function fileProgressPrinter(
  write: (line: string) => void = (line) => process.stderr.write(line),
): (progress: { file?: string; filesDone: number; filesTotal: number }) => void {
  let lastFile = '';
  return ({ file, filesDone, filesTotal }) => {
    if (file && file !== lastFile) write(`[${filesDone + 1}/${filesTotal}] ${file}\n`);
    lastFile = file ?? lastFile;
  };
}
