#!/usr/bin/env bash
# PCI database benchmark, in one run against one fresh xenstored:
#   list   read the whole database of N devices (16 buses of 256 functions)
#          - c-libxenstore: plain C, one transaction per bus (what pcistore does)
#          - c-raw-pipelined: C on the wire protocol, no transactions, every
#            request pipelined: the fastest any reader can be
#          - swift-libxenstore: `pcistore list`'s read (PCIDatabase.read)
#   dump   the same read, rendered in both dump forms (Swift only)
#   assign-release  one device assigned and released R times: the C program's
#          two transactions beside PCIDatabase.assign/release (no sysfs reset)
#   reap   a domain holding one device is released (XS_RELEASE), P rounds: time
#          until a watcher reads the device assignable, with a DeadDomainReaper
#          running, beside the raw XS_RELEASE -> @releaseDomain watch round trip
#   events the typed event stream: assign or release of one device until its
#          typed `changed` event, E times each, beside the raw write -> watch
#          event round trip; events per second for B changes (one transaction
#          each, written while read) beside B raw node writes, and for the
#          stream alone (B changes committed in one transaction)
#   agent  A reset requests through a HardwareAgent (domain 7: unprivileged on
#          the engine) and back (request written -> answer read -> slot free),
#          beside a write/watch ping-pong between the same two connections
# then the same Swift workload on the embedded engine. Prints JSON lines and
# the ratios (time ratio: >1 means slower than the baseline).
#
# Usage: Benchmarks/run-pci.sh [--devices N] [--rounds R] [--reap-rounds P]
#                              [--event-rounds E] [--burst B] [--agent-rounds A] [--quick]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
devices=4096 rounds=500 reap=50 events=200 burst=500 agent=500
while (($#)); do
    case $1 in
        --devices) devices=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --reap-rounds) reap=$2; shift 2 ;;
        --event-rounds) events=$2; shift 2 ;;
        --burst) burst=$2; shift 2 ;;
        --agent-rounds) agent=$2; shift 2 ;;
        --quick) devices=512 rounds=50 reap=10 events=20 burst=100 agent=50; shift ;;
        *) echo "usage: $0 [--devices N] [--rounds R] [--reap-rounds P] [--event-rounds E] [--burst B] [--agent-rounds A] [--quick]" >&2; exit 64 ;;
    esac
done
out=$repo/.build-bench
mkdir -p "$out"
make -s -C "$here/c" OUT="$out" >&2
(cd "$repo" && swift build -c release --product pci-bench >&2)
bench=$(cd "$repo" && swift build -c release --show-bin-path)/pci-bench
rundir=$(mktemp -d /tmp/pcistore-pcibench.XXXXXX)
trap 'bash "$repo/scripts/xenstored/xenstored.sh" stop "$rundir" >/dev/null 2>&1 || true; rm -rf "$rundir"' EXIT
export XENSTORED_PATH=$(bash "$repo/scripts/xenstored/xenstored.sh" start "$rundir")

results=$out/pci-results.jsonl
: >"$results"
"$bench" populate --devices "$devices" | tee -a "$results"
"$out/pcibench" list | tee -a "$results"
"$out/pcibench" list-pipelined | tee -a "$results"
"$bench" list | tee -a "$results"
"$bench" dump | tee -a "$results"
"$out/pcibench" assign-release --device 0000-00-00-0 --rounds "$rounds" | tee -a "$results"
"$bench" assign-release --rounds "$rounds" | tee -a "$results"
"$bench" reap --devices "$devices" --reap-rounds "$reap" | tee -a "$results"
"$bench" events --devices "$devices" --event-rounds "$events" --burst "$burst" | tee -a "$results"
"$bench" agent --agent-rounds "$agent" | tee -a "$results"
"$bench" all --backend engine --devices "$devices" --rounds "$rounds" --reap-rounds "$reap" \
    --event-rounds "$events" --burst "$burst" --agent-rounds "$agent" | sed 's/^/ /' | tee -a "$results"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def get(impl, mode):
    return next(r for r in rows if r["impl"] == impl and r["mode"] == mode)
c, raw, sw, eng = (get(i, "list") for i in ("c-libxenstore", "c-raw-pipelined", "swift-libxenstore", "swift-engine"))
print(f"\nlist of {sw['devices']} devices: swift {sw['seconds']:.3f}s, c-libxenstore {c['seconds']:.3f}s, c-raw-pipelined {raw['seconds']:.3f}s, engine {eng['seconds']:.3f}s")
print(f"  swift/c-libxenstore {sw['seconds']/c['seconds']:.2f}x   swift/c-raw-pipelined {sw['seconds']/raw['seconds']:.2f}x   engine/c-libxenstore {eng['seconds']/c['seconds']:.3f}x")
d = get("swift-libxenstore", "dump")
print(f"dump (read + both forms): swift {d['seconds']:.3f}s = {d['seconds']/c['seconds']:.2f}x c-libxenstore list")
ca, sa, ea = get("c-libxenstore", "assign-release"), get("swift-libxenstore", "assign-release"), get("swift-engine", "assign-release")
print(f"assign+release pairs/s: swift {sa['pairs_per_s']:.0f}, c-libxenstore {ca['pairs_per_s']:.0f} (time ratio {ca['pairs_per_s']/sa['pairs_per_s']:.2f}x), engine {ea['pairs_per_s']:.0f}")
for impl, label in (("swift-libxenstore", "daemon"), ("swift-engine", "engine")):
    r = get(impl, "reap")
    print(f"reap on the {label} ({r['devices']} devices, {r['rounds']} rounds): XS_RELEASE -> assignable p50 {r['release_to_assignable_p50_us']/1000:.2f} ms, p99 {r['release_to_assignable_p99_us']/1000:.2f} ms;"
          f" raw @releaseDomain watch p50 {r['release_watch_p50_us']/1000:.3f} ms, p99 {r['release_watch_p99_us']/1000:.3f} ms")
for impl, label in (("swift-libxenstore", "daemon"), ("swift-engine", "engine")):
    e = get(impl, "events")
    print(f"events on the {label} ({e['devices']} devices, {e['rounds']} rounds): write -> typed event p50 {e['typed_p50_us']/1000:.3f} ms, p99 {e['typed_p99_us']/1000:.3f} ms"
          f" (the operation itself p50 {e['operation_p50_us']/1000:.3f} ms); raw write -> watch event p50 {e['raw_p50_us']/1000:.3f} ms, p99 {e['raw_p99_us']/1000:.3f} ms")
    print(f"  typed/raw p50 {e['typed_p50_us']/e['raw_p50_us']:.1f}x, p99 {e['typed_p99_us']/e['raw_p99_us']:.1f}x;"
          f" (typed - operation)/raw p50 {(e['typed_p50_us']-e['operation_p50_us'])/e['raw_p50_us']:.1f}x")
    print(f"  events/s for {e['burst']} changes, one transaction each, written while read: typed {e['burst_typed_events_per_s']:.0f}, raw {e['burst_raw_events_per_s']:.0f}"
          f" (raw/typed {e['burst_raw_events_per_s']/e['burst_typed_events_per_s']:.1f}x); the stream alone, {e['burst']} changes in one transaction"
          f" ({e['one_transaction_seconds']:.2f} s to commit): {e['stream_events_per_s']:.0f}/s; resyncs {e['resyncs']}")
for impl, label in (("swift-libxenstore", "daemon"), ("swift-engine", "engine")):
    r = get(impl, "agent")
    print(f"agent request round trip on the {label} ({r['rounds']} resets): p50 {r['request_round_trip_p50_us']/1000:.2f} ms, p99 {r['request_round_trip_p99_us']/1000:.2f} ms;"
          f" write/watch ping-pong p50 {r['ping_pong_p50_us']/1000:.3f} ms, p99 {r['ping_pong_p99_us']/1000:.3f} ms"
          f" ({r['request_round_trip_p50_us']/r['ping_pong_p50_us']:.0f}x at p50)")
PY
