#!/usr/bin/env bash
# The main job: build pcistore and use it against the embedded default store —
# write a node under /local/pci and list the tree back.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
bash "$repo/scripts/deps.sh"
cd "$repo"
swift build --product pcistore >&2
bin=$(swift build --show-bin-path)/pcistore
store=${PCISTORE_STORE:-file:$repo/.build-main/store}
"$bin" store write --store "$store" /local/pci/hello "written by scripts/main.sh at $(date -u +%FT%TZ)"
"$bin" store ls --store "$store" -p /local/pci
