#!/usr/bin/env bash
# What the QEMU harness needs on the host, once; every later run is a no-op.
#
# 1. qemu-system-x86, busybox-static and cpio from apt, when missing
#    (apt-get update only when an install or download needs it).
# 2. Debian's current amd64 kernel: the package linux-image-amd64 depends on
#    (its ABI number moves with security updates, so it is resolved here, at
#    run time), fetched with `apt-get download` and unpacked with `dpkg -x`
#    into .build-qemu/kernel. It is never installed on the host.
#
# Prints the kernel's release (e.g. 6.1.0-56-amd64) as its only stdout line;
# progress goes to stderr.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache="$repo/.build-qemu"
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive
log() { echo "prepare.sh: $*" >&2; }

updated=false
apt_update_once() {
    $updated && return 0
    log "apt-get update"
    apt-get update -qq >&2
    updated=true
}

# --- host packages ---------------------------------------------------------
packages=(qemu-system-x86 busybox-static cpio)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$cache/apt.log" 2>&1 || {
        apt_update_once
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$cache/apt.log" 2>&1 ||
            { tail -n 20 "$cache/apt.log" >&2; exit 1; }
    }
fi

# --- the kernel ------------------------------------------------------------
resolve_kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
}
pkg=$(resolve_kernel_package)
if [[ -z "$pkg" ]]; then
    apt_update_once
    pkg=$(resolve_kernel_package)
fi
[[ -n "$pkg" ]] || { log "cannot resolve the package linux-image-amd64 depends on"; exit 1; }
version=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
stamp="$pkg=$version"

kdir="$cache/kernel"
if [[ -f "$kdir/.package" && "$(cat "$kdir/.package")" == "$stamp" ]]; then
    log "kernel $stamp already unpacked in $kdir"
else
    log "fetching $stamp"
    debs="$cache/debs"
    mkdir -p "$debs"
    rm -f "$debs"/linux-image-*.deb
    (cd "$debs" && { apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2 ||
        { apt_update_once; apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2; }; })
    deb=$(ls "$debs"/"$pkg"_*.deb | head -n1)
    rm -rf "$kdir.new"
    mkdir -p "$kdir.new"
    dpkg -x "$deb" "$kdir.new"
    echo "$stamp" >"$kdir.new/.package"
    rm -rf "$kdir"
    mv "$kdir.new" "$kdir"
    rm -f "$deb"
    log "kernel unpacked in $kdir"
fi

release=$(cd "$kdir/lib/modules" && ls | head -n1)
[[ -n "$release" && -f "$kdir/boot/vmlinuz-$release" ]] || { log "no vmlinuz in $kdir"; exit 1; }
# The package ships no modules.dep (the host's depmod makes it on install);
# make one in our copy so modprobe works in the guest.
if [[ ! -s "$kdir/lib/modules/$release/modules.dep" ]]; then
    log "depmod for $release"
    busybox depmod -b "$kdir" "$release"
fi
echo "$release"
