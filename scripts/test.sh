#!/usr/bin/env bash
# Everything the tests need, then every test: the XenStore conformance suite
# against the embedded engine and the real xenstored (started by the tests
# themselves), the engine's own tests, the CLI tests on the built binary, the
# QEMU guest on a real kernel, and quick runs of the benchmarks (first) so they
# cannot rot.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
bash "$repo/scripts/deps.sh"
cd "$repo"
bash Benchmarks/run.sh --quick
bash Benchmarks/run-pci.sh --quick
bash Benchmarks/run-serve.sh --quick
# libFuzzer + AddressSanitizer on the wire codec and the server session,
# from the committed seeds, for a bounded time (Fuzz/run.sh).
bash Fuzz/run.sh 60
# A real Debian kernel under QEMU (TCG) with emulated PCI devices: discover,
# seize to pci-stub and vfio-pci, rebind, reset, refusals, rollback on the
# guest's real sysfs (scripts/qemu/README.md).
bash scripts/qemu/guest-a.sh
# Xen 4.17 with a PV dom0 under QEMU (TCG): pcistore against the real xenstored
# and pciback, side by side with xl, adopt included (scripts/qemu/README.md, Guest B).
bash scripts/qemu/guest-b.sh
swift build --build-tests
# Last, so the run closes on the test runner's own summary.
swift test --skip-build --disable-xctest
