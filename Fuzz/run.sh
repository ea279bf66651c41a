#!/usr/bin/env bash
# Builds the wire-protocol fuzzer (libFuzzer + AddressSanitizer) and runs it
# for a bounded time, starting from the committed seeds in corpus/.
#
#   bash Fuzz/run.sh [SECONDS]        (default 60)
#
# Exits non-zero on a crash, a broken invariant (a trap in the target), a
# leak, an input slower than 10 s or a run over 4 GiB; the input that did it
# is left in Fuzz/.work/artifacts/ (kept out of git), to replay with
#   Fuzz/.build/release/WireFuzz Fuzz/.work/artifacts/crash-…
# What the run discovers goes to Fuzz/.work/corpus/ and is reused by the
# next local run; CI starts from the seeds alone.
set -euo pipefail
seconds=${1:-60}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=/opt/swift/usr/bin:$PATH
cd "$here"
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
start=$(date +%s)
swift build "${flags[@]}"
echo "fuzz: built in $(( $(date +%s) - start )) s"
bin="$(swift build "${flags[@]}" --show-bin-path)/WireFuzz"
mkdir -p .work/corpus .work/artifacts
# Swift's own crash backtracer reads the stack in a way AddressSanitizer
# reports as an underflow, burying the real failure: leave crashes to
# libFuzzer's handler.
SWIFT_BACKTRACE=enable=no "$bin" .work/corpus corpus \
    -dict=wire.dict -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix=.work/artifacts/ -print_final_stats=1
