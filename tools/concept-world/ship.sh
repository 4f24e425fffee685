#!/usr/bin/env bash
# Ships a trained concept world into the studio: the diffusers repo (fp16, as trained), the fp32
# Lethe pack that `lethe pack --from` builds from it (the built-in demo), the judge, the parity
# fixtures the tests compare Lethe against, and the training record.
# Usage: bash tools/concept-world/ship.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-tools/concept-world/out}"
DEST=public/concept-world
FIXTURES=tests/fixtures/concept-world
rm -rf "$DEST/diffusers" "$DEST/pack"
mkdir -p "$DEST" "$FIXTURES" docs/concept-world
cp -r "$OUT/diffusers" "$DEST/diffusers"
node bin/lethe.mjs pack --from "$DEST/diffusers" --out "$DEST/pack" --dtype fp32
cp "$OUT/judge.onnx" "$OUT/judge.json" "$DEST/"
cp "$OUT/parity.safetensors" "$OUT/judge-parity.safetensors" "$OUT/tokenizer-parity.json" "$FIXTURES/"
node -e '
const fs = require("fs"), path = require("path");
const out = process.argv[1], record = {};
// training-notes.json ({stage: text}, written by hand) says what the logs cannot: warm restarts,
// fine-tunes, the options each leg ran with.
const notesFile = path.join(out, "training-notes.json");
const notes = fs.existsSync(notesFile) ? JSON.parse(fs.readFileSync(notesFile, "utf8")) : {};
for (const stage of ["data", "vae", "encode", "unet", "judge"]) {
  const file = path.join(out, "ckpt", stage + ".done");
  if (fs.existsSync(file)) record[stage] = { ...JSON.parse(fs.readFileSync(file, "utf8")), ...(notes[stage] ? { note: notes[stage] } : {}) };
}
fs.writeFileSync(process.argv[2], JSON.stringify(record, null, 2) + "\n");
' "$OUT" "$DEST/training.json"
for image in data-sample.png vae-reconstructions.png; do [ -f "$OUT/$image" ] && cp "$OUT/$image" docs/concept-world/; done
du -sh "$DEST/pack" "$DEST/diffusers" "$DEST/judge.onnx"
