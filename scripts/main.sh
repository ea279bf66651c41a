#!/usr/bin/env bash
# The main job: build pcistore, discover this machine's PCI devices (reading
# sysfs only; nothing on the bus is changed) into the default store — the
# XenStore daemon when one answers, else the embedded file store — and list them.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
bash "$repo/scripts/deps.sh"
cd "$repo"
swift build --product pcistore >&2
bin=$(swift build --show-bin-path)/pcistore
"$bin" discover
"$bin" list
"$bin" check
