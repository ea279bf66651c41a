#!/usr/bin/env bash
# `pcistore serve` beside the real xenstored, in one run, on the same
# workloads driven by the same C clients (so only the server differs):
#   xsbench      Benchmarks/c/xsbench.c on libxenstore: populate N device
#                subtrees in transactions, list them back, watch round trips
#   list         Benchmarks/c/pcibench.c on libxenstore: the PCI database of
#                N devices read one transaction per bus
#   list-pipelined  the same read on the raw wire protocol, every request of
#                a level pipelined: the server's throughput, not the client's
#   assign-release  R assign/release transaction pairs
# Each server gets a fresh store, populated by `pci-bench populate`.
# Prints JSON lines, then serve/xenstored time ratios (>1 = serve is slower).
#
# Usage: Benchmarks/run-serve.sh [--devices N] [--rounds R] [--quick]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
devices=4096 rounds=500 watch=2000
while (($#)); do
    case $1 in
        --devices) devices=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --quick) devices=512 rounds=50 watch=200; shift ;;
        *) echo "usage: $0 [--devices N] [--rounds R] [--quick]" >&2; exit 64 ;;
    esac
done
out=$repo/.build-bench
mkdir -p "$out"
make -s -C "$here/c" OUT="$out" >&2
(cd "$repo" && swift build -c release --product pci-bench >&2 && swift build -c release --product pcistore >&2)
bin=$(cd "$repo" && swift build -c release --show-bin-path)
rundir=$(mktemp -d /tmp/pcistore-servebench.XXXXXX)
serve_pid=
cleanup() {
    [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    bash "$repo/scripts/xenstored/xenstored.sh" stop "$rundir/xenstored" >/dev/null 2>&1 || true
    rm -rf "$rundir"
}
trap cleanup EXIT
daemon_sock=$(bash "$repo/scripts/xenstored/xenstored.sh" start "$rundir/xenstored")
serve_sock=$rundir/serve.sock
"$bin/pcistore" serve --socket "$serve_sock" >"$rundir/serve.out" 2>"$rundir/serve.err" &
serve_pid=$!
for _ in $(seq 1 200); do [[ -s $rundir/serve.out ]] && break; sleep 0.05; done
[[ $(cat "$rundir/serve.out") == "serving $serve_sock" ]] || { cat "$rundir/serve.err" >&2; exit 1; }

results=$out/serve-results.jsonl
: >"$results"
for server in xenstored serve; do
    sock=$daemon_sock
    [[ $server == serve ]] && sock=$serve_sock
    tag() { python3 -c 'import json,sys; s=sys.argv[1]
for l in sys.stdin: r=json.loads(l); r["server"]=s; print(json.dumps(r), flush=True)' "$server"; }
    export XENSTORED_PATH=$sock
    "$bin/pci-bench" populate --devices "$devices" >/dev/null
    "$out/xsbench" --devices "$devices" --nodes 8 --watch-rounds "$watch" --root /bench/xs | tag | tee -a "$results"
    "$out/pcibench" list | tag | tee -a "$results"
    "$out/pcibench" list-pipelined | tag | tee -a "$results"
    "$out/pcibench" assign-release --device 0000-00-00-0 --rounds "$rounds" | tag | tee -a "$results"
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def get(server, impl, mode=None):
    return next(r for r in rows if r["server"] == server and r["impl"] == impl and (mode is None or r.get("mode") == mode))
d, s = (get(x, "c-libxenstore", None) for x in ("xenstored", "serve"))
xs_d = next(r for r in rows if r["server"] == "xenstored" and "populate_s" in r)
xs_s = next(r for r in rows if r["server"] == "serve" and "populate_s" in r)
print(f"\npcistore serve / xenstored, same C clients ({xs_d['devices']} devices); time ratio, >1 = serve slower")
for key, label in (("populate_s", "xsbench populate"), ("list_s", "xsbench list"),
                   ("watch_p50_us", "xsbench watch p50"), ("watch_p99_us", "xsbench watch p99")):
    print(f"  {label:28} {xs_s[key]/xs_d[key]:7.3f}x   ({xs_d[key]:.4g} vs {xs_s[key]:.4g})")
for impl, mode, label in (("c-libxenstore", "list", "pci list (libxenstore)"),
                          ("c-raw-pipelined", "list", "pci list (pipelined)")):
    a, b = get("xenstored", impl, mode), get("serve", impl, mode)
    print(f"  {label:28} {b['seconds']/a['seconds']:7.3f}x   ({a['seconds']:.4g}s vs {b['seconds']:.4g}s, {a['nodes']/a['seconds']:.0f} vs {b['nodes']/b['seconds']:.0f} reads/s)")
a, b = get("xenstored", "c-libxenstore", "assign-release"), get("serve", "c-libxenstore", "assign-release")
print(f"  {'assign+release pairs':28} {a['pairs_per_s']/b['pairs_per_s']:7.3f}x   ({a['pairs_per_s']:.0f} vs {b['pairs_per_s']:.0f} pairs/s)")
PY
