#!/usr/bin/env bash
# Installs what building and testing pcistore needs on Debian 12, when missing:
# libxen-dev (libxenstore + headers), xenstore-utils, gcc/make/pkg-config for the
# C pieces, python3 and python3-pyxs (a Python client the tests run), and the
# real xenstored (scripts/xenstored).
# The Swift toolchain itself is expected at /opt/swift or on PATH.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages=(libxen-dev xenstore-utils gcc make pkg-config python3 python3-pyxs)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 || {
        apt-get update >&2
        apt-get install -y --no-install-recommends "${missing[@]}" >&2
    }
fi

if ! command -v swift >/dev/null; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "deps.sh: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "deps.sh: no Swift toolchain found (need Swift 6.1 or later on PATH)" >&2
    fi
    exit 1
fi

bash "$repo/scripts/xenstored/xenstored.sh" install >/dev/null
