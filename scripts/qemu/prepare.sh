#!/usr/bin/env bash
# What the QEMU harness needs on the host, once; every later run is a no-op.
#
# 1. qemu-system-x86, busybox-static and cpio from apt, when missing
#    (apt-get update only when an install or download needs it).
# 2. Debian's current amd64 kernel: the package linux-image-amd64 depends on
#    (its ABI number moves with security updates, so it is resolved here, at
#    run time), fetched with `apt-get download` and unpacked with `dpkg -x`
#    into .build-qemu/kernel. It is never installed on the host.
# 3. With --xen (Guest B): Xen 4.17 for a PV dom0, from Debian's packages
#    xen-hypervisor-4.17-amd64, xen-utils-4.17 and xenstore-utils and the
#    libxen*/libyajl libraries they depend on, fetched with `apt-get download`
#    and unpacked with `dpkg -x` into .build-qemu/xen (never installed). The
#    hypervisor is gunzipped to .build-qemu/xen/xen (QEMU's multiboot loader
#    takes no gzip).
#
# Prints the kernel's release (e.g. 6.1.0-56-amd64) as its only stdout line;
# progress goes to stderr.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache="$repo/.build-qemu"
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive
log() { echo "prepare.sh: $*" >&2; }
want_xen=false
for arg in "$@"; do
    case $arg in
    --xen) want_xen=true ;;
    *) log "unknown argument $arg (usage: prepare.sh [--xen])"; exit 2 ;;
    esac
done

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

# --- Xen (Guest B) ---------------------------------------------------------
# The libraries come with the packages that need them: every libxen*/libyajl
# package in the dependency closure of the tools. The rest (libc, libz,
# libuuid, …) is essential on Debian and taken from the host by ldd.
xen_closure() { # one apt-cache call per level of the dependency tree
    local -A seen=()
    local level=(xen-utils-4.17 xenstore-utils) next p
    for p in "${level[@]}"; do seen[$p]=1; done
    while ((${#level[@]})); do
        printf '%s\n' "${level[@]}"
        next=()
        while read -r p; do
            [[ $p =~ ^lib(xen|yajl) && -z ${seen[$p]:-} ]] && { seen[$p]=1; next+=("$p"); }
        done < <(apt-cache depends "${level[@]}" 2>/dev/null | sed -n 's/^ *Depends: \([^<> ]*\)$/\1/p' | sort -u)
        level=("${next[@]}")
    done
}
candidates() { # "package=candidate version" for each argument, sorted
    apt-cache policy "$@" 2>/dev/null |
        awk '/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) } $1 == "Candidate:" { print p "=" ($2 == "(none)" ? "" : $2) }' | sort
}
if $want_xen; then
    xpkgs=(xen-hypervisor-4.17-amd64)
    mapfile -t -O 1 xpkgs < <(xen_closure)
    if ((${#xpkgs[@]} < 4)); then
        apt_update_once
        xpkgs=(xen-hypervisor-4.17-amd64)
        mapfile -t -O 1 xpkgs < <(xen_closure)
    fi
    xstamp=$(candidates "${xpkgs[@]}")
    if grep -q '=$' <<<"$xstamp" || (($(wc -l <<<"$xstamp") != ${#xpkgs[@]})); then
        apt_update_once
        xstamp=$(candidates "${xpkgs[@]}")
    fi
    if grep -q '=$' <<<"$xstamp" || (($(wc -l <<<"$xstamp") != ${#xpkgs[@]})); then
        log "no candidate version for some of ${xpkgs[*]}: $(tr '\n' ' ' <<<"$xstamp")"
        exit 1
    fi
    xdir="$cache/xen"
    if [[ -f "$xdir/.packages" && "$(cat "$xdir/.packages")" == "$xstamp" ]]; then
        log "Xen packages already unpacked in $xdir"
    else
        log "fetching ${xpkgs[*]}"
        xdebs="$cache/debs/xen"
        rm -rf "$xdebs"
        mkdir -p "$xdebs"
        (cd "$xdebs" && { apt-get download -qq -o APT::Sandbox::User=root "${xpkgs[@]}" >&2 ||
            { apt_update_once; apt-get download -qq -o APT::Sandbox::User=root "${xpkgs[@]}" >&2; }; })
        rm -rf "$xdir.new"
        mkdir -p "$xdir.new/root"
        for deb in "$xdebs"/*.deb; do dpkg -x "$deb" "$xdir.new/root"; done
        gz=$(ls "$xdir.new"/root/boot/xen-4.17-amd64.gz 2>/dev/null || ls "$xdir.new"/root/boot/xen-*.gz | head -n1)
        gunzip -c "$gz" >"$xdir.new/xen"
        echo "$xstamp" >"$xdir.new/.packages"
        rm -rf "$xdir"
        mv "$xdir.new" "$xdir"
        rm -rf "$xdebs"
        log "Xen unpacked in $xdir ($(wc -l <"$xdir/.packages") packages)"
    fi
fi
echo "$release"
