#!/usr/bin/env bash
# Everything the tests need, then every test: the XenStore conformance suite
# against the embedded engine and the real xenstored (started by the tests
# themselves), the engine's own tests, the CLI tests on the built binary, and a
# quick run of the benchmark (first) so it cannot rot.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
bash "$repo/scripts/deps.sh"
cd "$repo"
bash Benchmarks/run.sh --quick
bash Benchmarks/run-pci.sh --quick
swift build --build-tests
# Last, so the run closes on the test runner's own summary.
swift test --skip-build --disable-xctest
