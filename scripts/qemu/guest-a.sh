#!/usr/bin/env bash
# Guest A: pcistore on a real Linux kernel. Boots Debian's own kernel under
# QEMU (TCG) with emulated PCI devices and an Intel IOMMU, runs the checks of
# guest-a.init inside against the guest's real sysfs, and exits 0 only when
# the guest's result line says pass.
#
#   bash scripts/qemu/guest-a.sh              # build pcistore, build the initramfs, boot
#   PCISTORE_BIN=/path/pcistore bash scripts/qemu/guest-a.sh   # use this binary, no build
#   GUEST_A_TIMEOUT=600 bash scripts/qemu/guest-a.sh           # QEMU's time limit (s, default 300)
#
# Everything goes under .build-qemu/ (kernel, Swift build, initramfs, logs);
# the serial console is kept in .build-qemu/guest-a.serial.log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache="$repo/.build-qemu"
work="$cache/guest-a"
serial="$cache/guest-a.serial.log"
limit=${GUEST_A_TIMEOUT:-300}
export PATH=/opt/swift/usr/bin:$PATH
log() { echo "guest-a: $*" >&2; }
started=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# One VM at a time: a second run waits for the first.
mkdir -p "$cache"
exec 9>"$cache/guest-a.lock"
flock -n 9 || { log "another guest-a.sh is running; waiting"; flock 9; }

# --- host side: packages and kernel ------------------------------------------
release=$(bash "$here/prepare.sh")
kdir="$cache/kernel"
vmlinuz="$kdir/boot/vmlinuz-$release"
moddir="$kdir/lib/modules/$release"

# --- pcistore ----------------------------------------------------------------
if [[ -n "${PCISTORE_BIN:-}" ]]; then
    bin=$PCISTORE_BIN
    log "using $bin (not building)"
else
    log "building pcistore (release, static Swift stdlib)"
    b0=$EPOCHREALTIME
    (cd "$repo" && swift build -c release --static-swift-stdlib --product pcistore \
        --scratch-path "$cache/swift" >"$cache/swift-build.log" 2>&1) || {
        tail -n 40 "$cache/swift-build.log" >&2
        log "swift build failed (log: $cache/swift-build.log)"
        exit 2
    }
    log "built in $(elapsed "$b0" "$EPOCHREALTIME") s"
    bin="$cache/swift/release/pcistore"
fi
[[ -x "$bin" ]] || { log "no pcistore binary at $bin"; exit 2; }

# --- initramfs ---------------------------------------------------------------
root="$work/root"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
file -b /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
    ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable' ||
    { log "/bin/busybox is not static (install busybox-static)"; exit 2; }
strip -o "$root/usr/bin/pcistore" "$bin" 2>/dev/null || cp "$bin" "$root/usr/bin/pcistore"
# The shared libraries pcistore loads (libxenstore, libc, …) at the paths the
# loader looks for them; the loader itself at its own path.
while read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
# Modules: the drivers the checks use and everything they depend on.
wanted=(e1000 e1000e pci-stub vfio-pci vfio_iommu_type1)
declare -A take=()
for m in "${wanted[@]}"; do
    line=$(grep -E "(^|/)${m//-/[-_]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n1) ||
        { log "module $m is not in $release"; exit 2; }
    for f in ${line/:/ }; do take[$f]=1; done
done
kmods="$root/lib/modules/$release"
mkdir -p "$kmods"
for f in "${!take[@]}"; do
    mkdir -p "$kmods/$(dirname "$f")"
    cp "$moddir/$f" "$kmods/$f"
done
cp "$moddir/modules.builtin" "$moddir/modules.order" "$kmods/" 2>/dev/null || true
busybox depmod -b "$root" "$release"
install -m 0755 "$here/guest-a.init" "$root/init"
initrd="$work/initramfs.cpio"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$initrd"
log "initramfs $(du -h "$initrd" | cut -f1) (${#take[@]} modules, kernel $release)"

# --- boot --------------------------------------------------------------------
# Device order matters: intel-iommu before the PCI devices. The root ports get
# x-speed/x-width so a secondary bus reset through them works (QEMU's default
# link makes it ENOTTY).
qemu=(
    qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 1
    -nodefaults -display none -no-reboot -serial stdio -monitor none
    -kernel "$vmlinuz" -initrd "$initrd"
    -append "console=ttyS0,115200 intel_iommu=on panic=-1 loglevel=5 rdinit=/init"
    -device intel-iommu
    -device e1000,addr=05.0,multifunction=on
    -device e1000,addr=05.1
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=06.0,chassis=1,slot=1,x-speed=2_5,x-width=1
    -device e1000e,bus=rp1
    -device pcie-root-port,id=rp2,bus=pcie.0,addr=07.0,chassis=2,slot=2,x-speed=2_5,x-width=1
    -device pcie-pci-bridge,id=pb1,bus=rp2
    -device pcie-root-port,id=rp3,bus=pcie.0,addr=08.0,chassis=3,slot=3
    -device e1000e,bus=rp3
)
log "booting (timeout ${limit}s): ${qemu[*]}"
times="$work/times"
: >"$serial"
: >"$times"
boot0=$EPOCHREALTIME
set +e
timeout -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line" >>"$serial"
    case $line in
    PCISTORE-GUEST-A\ BOOTED*) echo "booted $EPOCHREALTIME" >>"$times"; echo "$line" >&2 ;;
    PCISTORE-GUEST-A\ RESULT*) echo "result $EPOCHREALTIME" >>"$times"; echo "$line" >&2 ;;
    PCISTORE-GUEST-A\ *) echo "$line" >&2 ;;
    esac
done
status=${PIPESTATUS[0]}
set -e
end=$EPOCHREALTIME

booted=$(awk '$1 == "booted" { print $2 }' "$times")
resulted=$(awk '$1 == "result" { print $2 }' "$times")
if [[ -n "$booted" ]]; then
    log "boot time: $(elapsed "$boot0" "$booted") s (QEMU start to /init)"
    [[ -n "$resulted" ]] && log "test time: $(elapsed "$booted" "$resulted") s (/init to result line)"
fi
log "QEMU exit $status after $(elapsed "$boot0" "$end") s; whole run $(elapsed "$started" "$end") s; serial log $serial"

results=$(grep -c '^PCISTORE-GUEST-A RESULT ' "$serial" || true)
if [[ $status -eq 124 || $status -eq 137 ]]; then
    tail -n 40 "$serial" >&2
    log "FAIL: QEMU timed out after ${limit}s"
    exit 1
fi
if [[ $results -ne 1 ]]; then
    tail -n 40 "$serial" >&2
    log "FAIL: want exactly one result line, found $results"
    exit 1
fi
if grep -q '^PCISTORE-GUEST-A RESULT pass ' "$serial"; then
    log "PASS"
    exit 0
fi
tail -n 60 "$serial" >&2
log "FAIL: $(grep '^PCISTORE-GUEST-A RESULT ' "$serial")"
exit 1
