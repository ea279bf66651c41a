#!/usr/bin/env bash
# XenStore layer benchmark: one workload (populate N device subtrees in
# transactions, list them back, watch round trips), three implementations, one
# run, one daemon:
#   c-libxenstore      Benchmarks/c/xsbench.c: plain C on libxenstore (the baseline)
#   swift-libxenstore  the Swift layer's libxenstore backend, same daemon
#   swift-engine       the Swift layer's embedded engine, in process
# Prints each result as a JSON line, then the ratios against the C baseline
# (time ratio > 1 means slower than C).
#
# Usage: Benchmarks/run.sh [--devices N] [--nodes K] [--watch-rounds R] [--quick]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
devices=1024 nodes=8 rounds=2000
while (($#)); do
    case $1 in
        --devices) devices=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --watch-rounds) rounds=$2; shift 2 ;;
        --quick) devices=128 rounds=200; shift ;;
        *) echo "usage: $0 [--devices N] [--nodes K] [--watch-rounds R] [--quick]" >&2; exit 64 ;;
    esac
done

out=$repo/.build-bench
mkdir -p "$out"
make -s -C "$here/c" OUT="$out" >&2
(cd "$repo" && swift build -c release --product xenstore-bench >&2)
bench=$(cd "$repo" && swift build -c release --show-bin-path)/xenstore-bench

rundir=$(mktemp -d /tmp/pcistore-bench.XXXXXX)
trap 'bash "$repo/scripts/xenstored/xenstored.sh" stop "$rundir" >/dev/null 2>&1 || true; rm -rf "$rundir"' EXIT
sock=$(bash "$repo/scripts/xenstored/xenstored.sh" start "$rundir")
args=(--devices "$devices" --nodes "$nodes" --watch-rounds "$rounds")

results=$out/results.jsonl
: >"$results"
XENSTORED_PATH=$sock "$out/xsbench" "${args[@]}" --root /bench/c | tee -a "$results"
XENSTORED_PATH=$sock "$bench" --backend xenstored "${args[@]}" --root /bench/swift | tee -a "$results"
"$bench" --backend engine "${args[@]}" --root /bench/engine | tee -a "$results"

python3 - "$results" <<'PY'
import json, sys
rows = {r["impl"]: r for r in map(json.loads, open(sys.argv[1]))}
base = rows["c-libxenstore"]
print(f"\nratios against c-libxenstore ({base['devices']} devices x {base['nodes']} nodes, {base['watch_rounds']} watch rounds); time ratio, >1 = slower")
print(f"{'impl':20} {'populate':>9} {'list':>9} {'watch p50':>10} {'watch p99':>10}")
for impl in ("c-libxenstore", "swift-libxenstore", "swift-engine"):
    r = rows[impl]
    cols = [r["populate_s"] / base["populate_s"], r["list_s"] / base["list_s"],
            r["watch_p50_us"] / base["watch_p50_us"], r["watch_p99_us"] / base["watch_p99_us"]]
    print(f"{impl:20} " + " ".join(f"{c:9.3f}x" for c in cols))
PY
