#!/usr/bin/env bash
# Runs the carried bundle (bundle.mjs) with the carried node on a machine that has neither node
# nor npm. Copied into .device/ by tools/device/build-carry.mjs; see tools/device/README.md.
# The working directory is left alone, so the entry's relative paths (and $OUT) mean the caller's.
#
#   LETHE_VK_ICD=/path/icd.json  Vulkan driver to use (exported as VK_ICD_FILENAMES).
#   LETHE_VK_LOADER=auto|bundled|system  which libvulkan.so.1 Dawn loads (auto: the system's
#                                        when it has one, else the carried lib/libvulkan.so.1).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Unpacks $1 (xz) into $2 next to it unless that was already done; a temporary name and a rename
# keep an interrupted or concurrent unpack from leaving half a binary behind.
unpack() {
  local source="$here/$1" target="$here/$2"
  if [[ -s "$target" && ! "$source" -nt "$target" ]]; then return 0; fi
  local partial="$target.partial.$$"
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$source" >"$partial"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' "$source" "$partial"
  else
    echo "run.sh: neither xz nor python3 is here to unpack $1" >&2
    exit 127
  fi
  chmod 755 "$partial"
  mv -f "$partial" "$target"
}

unpack node.xz node
unpack dawn.node.xz node_modules/webgpu/dist/linux-x64/dawn.node

if [[ -n "${LETHE_VK_ICD:-}" ]]; then
  export VK_ICD_FILENAMES="$LETHE_VK_ICD"
fi

system_has_vulkan_loader() {
  local cache
  cache="$({ /sbin/ldconfig -p || ldconfig -p; } 2>/dev/null || true)"
  [[ "$cache" == *"libvulkan.so.1 "* ]]
}

case "${LETHE_VK_LOADER:-auto}" in
  system) ;;
  bundled) export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
  auto)
    if [[ -e "$here/lib/libvulkan.so.1" ]] && ! system_has_vulkan_loader; then
      export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    ;;
  *)
    echo "run.sh: LETHE_VK_LOADER must be auto, bundled or system, not '$LETHE_VK_LOADER'" >&2
    exit 2
    ;;
esac

exec "$here/node" "$here/bundle.mjs" "$@"
