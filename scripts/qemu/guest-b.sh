#!/usr/bin/env bash
# Guest B: pcistore in a Xen dom0. Boots Debian's Xen 4.17 under QEMU (TCG)
# with Debian's kernel as a PV dom0, the real xenstored, xen-init-dom0 and
# xen-pciback, and runs the checks of guest-b.init inside: pcistore against
# the real XenStore through libxenstore, side by side with `xl`. Exits 0 only
# when the guest's result line says pass.
#
#   bash scripts/qemu/guest-b.sh              # build pcistore, build the initramfs, boot
#   PCISTORE_BIN=/path/pcistore bash scripts/qemu/guest-b.sh   # use this binary, no build
#   GUEST_B_TIMEOUT=900 bash scripts/qemu/guest-b.sh           # QEMU's time limit (s, default 480)
#
# Everything goes under .build-qemu/ (kernel, Xen, Swift build, initramfs,
# logs). Kept after each run:
#   .build-qemu/guest-b.serial.log       the whole serial console (Xen and dom0)
#   .build-qemu/guest-b.xenstore-ls.txt  `xenstore-ls -f -p` taken in the guest
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache="$repo/.build-qemu"
work="$cache/guest-b"
serial="$cache/guest-b.serial.log"
artefact="$cache/guest-b.xenstore-ls.txt"
limit=${GUEST_B_TIMEOUT:-480}
tag=PCISTORE-GUEST-B
export PATH=/opt/swift/usr/bin:$PATH
log() { echo "guest-b: $*" >&2; }
started=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# One VM at a time: a second run waits for the first.
mkdir -p "$cache"
exec 9>"$cache/guest-b.lock"
flock -n 9 || { log "another guest-b.sh is running; waiting"; flock 9; }

# --- host side: packages, kernel and Xen ---------------------------------------
release=$(bash "$here/prepare.sh" --xen)
kdir="$cache/kernel"
vmlinuz="$kdir/boot/vmlinuz-$release"
moddir="$kdir/lib/modules/$release"
xroot="$cache/xen/root"
xen="$cache/xen/xen"
xbin="$xroot/usr/lib/xen-4.17/bin"
for f in "$xen" "$xbin/xl" "$xbin/xenstored" "$xbin/xen-init-dom0" "$xroot/usr/bin/xenstore"; do
    [[ -f $f ]] || { log "missing $f (prepare.sh --xen)"; exit 2; }
done

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
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc/xen,var/lib/xen,var/log/xen}
ln -s ../run "$root/var/run"
# An empty xl.conf keeps xl quiet about a missing one.
: >"$root/etc/xen/xl.conf"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
file -b /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
    ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable' ||
    { log "/bin/busybox is not static (install busybox-static)"; exit 2; }
strip -o "$root/usr/bin/pcistore" "$bin" 2>/dev/null || cp "$bin" "$root/usr/bin/pcistore"
# The real Xen tools, not Debian's /usr/sbin wrapper scripts: xl, xenstored
# and xen-init-dom0 at their own paths (also on PATH), and the xenstore
# client, whose name picks the command (xenstore-ls, -read, …).
mkdir -p "$root/usr/lib/xen-4.17/bin"
for b in xl xenstored xen-init-dom0; do
    cp "$xbin/$b" "$root/usr/lib/xen-4.17/bin/$b"
    ln -s "../lib/xen-4.17/bin/$b" "$root/usr/sbin/$b"
done
cp "$xroot/usr/bin/xenstore" "$root/usr/bin/xenstore"
for c in ls read write list rm exists chmod watch; do ln -s xenstore "$root/usr/bin/xenstore-$c"; done
# Shared libraries: the Xen ones from the unpacked packages (the same
# libxenstore for pcistore and for xl), the rest from the host, each at the
# path the guest's loader looks for it.
xlibs="$xroot/usr/lib/x86_64-linux-gnu"
libs=$(for b in "$root/usr/bin/pcistore" "$root/usr/bin/xenstore" "$root"/usr/lib/xen-4.17/bin/*; do
    LD_LIBRARY_PATH="$xlibs" ldd "$b"
done)
if grep -q 'not found' <<<"$libs"; then
    log "libraries not found: $(grep 'not found' <<<"$libs" | sort -u | tr -s ' \t\n' ' ')"
    exit 2
fi
while read -r lib; do
    [[ -n "$lib" ]] || continue
    dest=${lib#"$xroot"}
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$lib" "$root$dest"
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs" | sort -u)
# Modules: xenfs and the Xen devices the tools open, pciback, the NIC drivers,
# and everything they depend on.
wanted=(xenfs xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xen-pciback e1000 e1000e)
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
install -m 0755 "$here/guest-b.init" "$root/init"
initrd="$work/initramfs.cpio"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$initrd"
log "initramfs $(du -h "$initrd" | cut -f1) (${#take[@]} modules, kernel $release, $(sed -n 's/^xen-hypervisor[^=]*=//p' "$cache/xen/.packages"))"

# --- boot --------------------------------------------------------------------
# QEMU loads Xen by multiboot: -kernel is the gunzipped hypervisor, -append
# its command line, -initrd the modules separated by commas, each followed
# by its own command line. So dom0's command line may hold no comma.
# Xen drives the emulated VT-d itself (iommu=1; required: xl quarantines a
# device by assigning it to DOMID_IO). Dom0's console is hvc0, which Xen
# writes to the serial port. Device order matters: intel-iommu before the
# PCI devices. The root ports get x-speed/x-width so a secondary bus reset
# through them works (QEMU's default link makes it ENOTTY).
xen_cmdline="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all iommu=1,verbose dom0_mem=512M,max:512M dom0_max_vcpus=1"
dom0_cmdline="console=hvc0 earlyprintk=xen loglevel=5 panic=-1 rdinit=/init"
qemu=(
    qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 1
    -nodefaults -display none -no-reboot -serial stdio -monitor none
    -kernel "$xen" -append "$xen_cmdline"
    -initrd "$vmlinuz $dom0_cmdline,$initrd"
    -device intel-iommu
    -device e1000,addr=05.0,multifunction=on
    -device e1000,addr=05.1
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=06.0,chassis=1,slot=1,x-speed=2_5,x-width=1
    -device e1000e,bus=rp1
    -device pcie-root-port,id=rp2,bus=pcie.0,addr=07.0,chassis=2,slot=2,x-speed=2_5,x-width=1
    -device e1000e,bus=rp2
)
log "booting (timeout ${limit}s): ${qemu[*]}"
times="$work/times"
: >"$serial"
: >"$times"
boot0=$EPOCHREALTIME
echo "start $boot0" >>"$times"
set +e
timeout -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line" >>"$serial"
    case $line in
    "$tag BOOTED"*) echo "booted $EPOCHREALTIME" >>"$times"; echo "$line" >&2 ;;
    "$tag RESULT"*) echo "result $EPOCHREALTIME" >>"$times"; echo "$line" >&2 ;;
    "$tag XENSTORE-LS"*) ;;
    "$tag "*) echo "$line" >&2 ;;
    "(XEN) Xen version"*) echo "xen $EPOCHREALTIME" >>"$times" ;;
    esac
done
status=${PIPESTATUS[0]}
set -e
end=$EPOCHREALTIME

# The xenstore-ls artefact: the lines between the guest's markers.
awk -v b="$tag XENSTORE-LS BEGIN" -v e="$tag XENSTORE-LS END" '
    index($0, e) == 1 { on = 0 } on { print } index($0, b) == 1 { on = 1; print "# " substr($0, length(b) + 2) }' \
    "$serial" | tr -d '\r' >"$artefact"
if [[ -s "$artefact" ]]; then
    log "xenstore-ls -f -p: $artefact ($(grep -vc '^#' "$artefact") nodes)"
else
    log "no xenstore-ls output in the serial log"
fi

xened=$(awk '$1 == "xen" { print $2; exit }' "$times")
booted=$(awk '$1 == "booted" { print $2 }' "$times")
resulted=$(awk '$1 == "result" { print $2 }' "$times")
if [[ -n "$booted" ]]; then
    banner=
    [[ -n "$xened" ]] && banner="; the Xen banner at $(elapsed "$boot0" "$xened") s"
    log "boot time: $(elapsed "$boot0" "$booted") s (QEMU start to dom0's /init$banner)"
    [[ -n "$resulted" ]] && log "test time: $(elapsed "$booted" "$resulted") s (/init to result line)"
fi
log "QEMU exit $status after $(elapsed "$boot0" "$end") s; whole run $(elapsed "$started" "$end") s; serial log $serial"

# The end of the console without the xenstore-ls dumps and Xen's device
# dumps, which would push the failing step off the screen.
console_tail() {
    awk -v b="$tag XENSTORE-LS BEGIN" -v e="$tag XENSTORE-LS END" '
        index($0, b) == 1 { skip = 1; print "[xenstore-ls dump left out: see the artefact]" }
        !skip && !/^\(XEN\) (0000:|==== )/ { print } index($0, e) == 1 { skip = 0 }' "$serial" | tail -n "$1"
}
results=$(grep -c "^$tag RESULT " "$serial" || true)
if [[ $status -eq 124 || $status -eq 137 ]]; then
    console_tail 40 >&2
    log "FAIL: QEMU timed out after ${limit}s"
    exit 1
fi
if [[ $results -ne 1 ]]; then
    console_tail 40 >&2
    log "FAIL: want exactly one result line, found $results"
    exit 1
fi
if grep -q "^$tag RESULT pass " "$serial"; then
    grep -q '^/local/pci/schema = "1"' "$artefact" ||
        { log "FAIL: the guest passed but $artefact has no /local/pci/schema"; exit 1; }
    log "PASS"
    exit 0
fi
console_tail 60 >&2
log "FAIL: $(grep "^$tag RESULT " "$serial")"
exit 1
