#!/usr/bin/env bash
# The whole concept-world build, resumable: glyphs and tokenizer (Node), then the trainer's
# stages; the UNet and the judge train side by side, one core each.
# Usage: bash tools/concept-world/train-all.sh [OUT_DIR] [full|smoke] [train.py options...]
#   (e.g. --init-from public/concept-world/diffusers to fine-tune the shipped model)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-tools/concept-world/out}"
CONFIG="${2:-full}"
shift $(( $# < 2 ? $# : 2 ))
PY="${PYTHON:-/usr/bin/python3}"
export OMP_NUM_THREADS=1
[ -f "$OUT/glyphs.bin" ] || node tools/concept-world/render-glyphs.mjs "$OUT"
[ -f "$OUT/diffusers/tokenizer/vocab.json" ] || node bin/run-ts.mjs tools/concept-world/make-tokenizer.ts "$OUT/diffusers/tokenizer"
for stage in data vae encode; do "$PY" tools/concept-world/train.py --out "$OUT" --config "$CONFIG" --stage "$stage" "$@"; done
"$PY" tools/concept-world/train.py --out "$OUT" --config "$CONFIG" --stage judge "$@" &
JUDGE=$!
"$PY" tools/concept-world/train.py --out "$OUT" --config "$CONFIG" --stage unet "$@"
wait "$JUDGE"
"$PY" tools/concept-world/train.py --out "$OUT" --config "$CONFIG" --stage export "$@"
