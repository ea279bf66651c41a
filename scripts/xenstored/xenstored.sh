#!/usr/bin/env bash
# Run Debian's real C xenstored (xen-utils-4.17) in user space, without a Xen
# hypervisor, for tests.  See README.md in this directory.
#
# Usage:
#   xenstored.sh install                 download+extract xenstored, build stubs;
#                                        prints the xenstored binary path
#   xenstored.sh start RUNDIR [ARGS...]  start a daemon in RUNDIR (extra ARGS go
#                                        to xenstored, e.g. -E 50 -W 10);
#                                        prints the socket path (RUNDIR/socket)
#   xenstored.sh stop RUNDIR             stop it (idempotent)
#   xenstored.sh status RUNDIR           exit 0 iff running and answering
#   xenstored.sh evtchn RUNDIR 'CMD DOMID'
#                                        simulate a hypervisor event
#                                        (create|destroy|dying|shutdown|crash|
#                                        running|notify DOMID, or virq)
#
# Environment:
#   PCISTORE_XEN_CACHE            cache dir (default <repo>/.build-xen)
#   PCISTORE_XEN_PKG              package to take xenstored from
#                                 (default xen-utils-4.17)
#   PCISTORE_XENSTORED_TRACE=1    also pass -T RUNDIR/trace.log (full protocol trace)
#   PCISTORE_XENSTORED_VERBOSE=1  also pass -V
#   PCISTORE_XENSTORED_TIMEOUT    seconds to wait for the daemon (default 10)
#   XSSTUB_DEBUG=1                verbose stub logging into RUNDIR/xenstored.log
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_DIR=${PCISTORE_XEN_CACHE:-$REPO_DIR/.build-xen}
XEN_PKG=${PCISTORE_XEN_PKG:-xen-utils-4.17}
STUBS_SRC=$SCRIPT_DIR/stubs.c
STUBS_SO=$CACHE_DIR/libxsstubs.so
EXTRACT_DIR=$CACHE_DIR/root
DEPS=(gcc libc6-dev libxen-dev xenstore-utils)

log() { printf 'xenstored.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- install

find_binary() {
    local b
    for b in "$EXTRACT_DIR"/usr/lib/xen-*/bin/xenstored "$EXTRACT_DIR"/usr/sbin/xenstored; do
        if [[ -x $b ]]; then
            printf '%s\n' "$b"
            return 0
        fi
    done
    return 1
}

missing_deps() {
    local -A ok=()
    local p status
    # One dpkg-query for all packages (unknown ones only produce stderr).
    while read -r p status; do
        [[ $status == "install ok installed" ]] && ok[${p%%:*}]=1
    done < <(dpkg-query -W -f='${Package} ${Status}\n' "${DEPS[@]}" 2>/dev/null || true)
    for p in "${DEPS[@]}"; do
        [[ -n ${ok[$p]:-} ]] || printf '%s\n' "$p"
    done
}

APT_UPDATED=0
apt_update_once() {
    ((APT_UPDATED)) && return 1
    APT_UPDATED=1
    log "running apt-get update"
    apt-get update >&2
}

ensure_deps() {
    local -a need
    mapfile -t need < <(missing_deps)
    ((${#need[@]} == 0)) && return 0
    [[ $(id -u) -eq 0 ]] || die "missing packages (${need[*]}) and not root; install them with apt-get"
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${need[@]}" >&2; then
        log "apt-get install failed; retrying after apt-get update"
        apt_update_once || die "apt-get install ${need[*]} failed"
        apt-get install -y --no-install-recommends "${need[@]}" >&2
    fi
}

stubs_fresh() {
    [[ -f $STUBS_SO && $STUBS_SO -nt $STUBS_SRC ]]
}

install_needed() {
    find_binary >/dev/null && stubs_fresh && command -v xenstore-read >/dev/null
}

do_install_locked() {
    ensure_deps

    if ! find_binary >/dev/null; then
        local dl=$CACHE_DIR/download deb
        local -a debs
        mkdir -p "$dl"
        rm -f "$dl"/*.deb
        # apt warns that it downloads "unsandboxed as root" because _apt
        # cannot write here; that warning is harmless.
        if ! (cd "$dl" && apt-get download "$XEN_PKG") >&2; then
            log "apt-get download failed; retrying after apt-get update"
            apt_update_once || die "apt-get download $XEN_PKG failed"
            (cd "$dl" && apt-get download "$XEN_PKG") >&2
        fi
        debs=("$dl"/*.deb)
        deb=${debs[0]}
        [[ -f $deb ]] || die "apt-get download $XEN_PKG produced no .deb"
        rm -rf "$EXTRACT_DIR.tmp"
        dpkg -x "$deb" "$EXTRACT_DIR.tmp"
        rm -rf "$EXTRACT_DIR"
        mv "$EXTRACT_DIR.tmp" "$EXTRACT_DIR"
        find_binary >/dev/null || die "no xenstored binary inside $deb"
        log "extracted $(basename "$deb")"
    fi

    if ! stubs_fresh; then
        gcc -shared -fPIC -O2 -Wall -o "$STUBS_SO.tmp" "$STUBS_SRC" -ldl >&2
        mv -f "$STUBS_SO.tmp" "$STUBS_SO"
        log "built $STUBS_SO"
    fi
}

cmd_install() {
    mkdir -p "$CACHE_DIR"
    # Keep the cache out of git without touching the repo's .gitignore.
    [[ -f $CACHE_DIR/.gitignore ]] || printf '*\n' >"$CACHE_DIR/.gitignore"
    (
        flock -w 600 9 || die "timed out waiting for $CACHE_DIR/.lock"
        do_install_locked
    ) 9>"$CACHE_DIR/.lock"
    find_binary
}

# ---------------------------------------------------------------- daemon

# Absolute path of RUNDIR ($1); created only if $2 is "create".
abs_rundir() {
    [[ -n ${1:-} ]] || usage
    if [[ ${2:-} == create ]]; then
        mkdir -p "$1"
    elif [[ ! -d $1 ]]; then
        case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
        esac
        return 0
    fi
    (cd "$1" && pwd)
}

# Prints the pid if RUNDIR's daemon process is alive (not a zombie).
live_pid() {
    local rundir=$1 pid state
    [[ -f $rundir/xenstored.pid ]] || return 1
    pid=$(tr -dc '0-9' <"$rundir/xenstored.pid")
    [[ -n $pid ]] || return 1
    [[ -r /proc/$pid/stat ]] || return 1
    # Make sure the pid was not recycled by something else.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q xenstored || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    printf '%s\n' "$pid"
}

answering() {
    local sock=$1/socket
    [[ -S $sock ]] || return 1
    XENSTORED_PATH=$sock timeout 5 xenstore-read / >/dev/null 2>&1
}

now_ms() { date +%s%3N; }

cmd_start() {
    local rundir pid t0 deadline bin sock
    rundir=$(abs_rundir "${1:-}" create)
    shift
    sock=$rundir/socket
    ((${#sock} < 108)) || die "socket path $sock too long for AF_UNIX (max 107 chars)"

    if pid=$(live_pid "$rundir"); then
        if answering "$rundir"; then
            log "already running in $rundir (pid $pid)"
            printf '%s\n' "$sock"
            return 0
        fi
        log "pid $pid in $rundir is not answering; restarting it"
        cmd_stop "$rundir"
    fi

    if install_needed; then
        bin=$(find_binary)
    else
        bin=$(cmd_install)
    fi

    local -a args=(-N -F "$rundir/xenstored.pid")
    [[ ${PCISTORE_XENSTORED_TRACE:-0} != 0 ]] && args+=(-T "$rundir/trace.log")
    [[ ${PCISTORE_XENSTORED_VERBOSE:-0} != 0 ]] && args+=(-V)
    args+=("$@")

    # Fresh stand-ins for /proc/xen/xsd_port and /proc/xen/xsd_kva, the
    # event-channel FIFO; no stale socket or ring pages.
    rm -f "$sock" "$rundir/evtchn" "$rundir"/ring-* "$rundir/xenstored.pid"
    printf '1\n' >"$rundir/xsd_port"
    head -c 4096 /dev/zero >"$rundir/xsd_kva"
    mkfifo -m 600 "$rundir/evtchn"
    {
        printf -- '---- %s start: %s' "$(date '+%F %T')" "$bin"
        printf ' %q' "${args[@]}"
        printf '\n'
    } >>"$rundir/xenstored.log"

    t0=$(now_ms)
    (
        cd "$rundir"
        # Do not leak the caller's descriptors (pipes, locks) into the daemon.
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec env -u XENSTORED_PATH XENSTORED_RUNDIR="$rundir" LD_PRELOAD="$STUBS_SO" \
            setsid nohup "$bin" "${args[@]}" </dev/null >>"$rundir/xenstored.log" 2>&1
    ) &
    # The subshell execs env -> setsid -> nohup -> xenstored without forking
    # (setsid only forks for process-group leaders), so $! is the daemon;
    # the daemon itself writes RUNDIR/xenstored.pid (-F).
    pid=$!

    deadline=$((t0 + ${PCISTORE_XENSTORED_TIMEOUT:-10} * 1000))
    while :; do
        if answering "$rundir"; then
            log "xenstored pid $(live_pid "$rundir" || echo "$pid") ready in $(($(now_ms) - t0)) ms"
            printf '%s\n' "$sock"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "xenstored exited during startup; log follows"
            break
        fi
        if (($(now_ms) > deadline)); then
            log "xenstored not answering after ${PCISTORE_XENSTORED_TIMEOUT:-10}s; log follows"
            break
        fi
        sleep 0.01
    done
    sed 's/^/  | /' "$rundir/xenstored.log" >&2 || true
    kill -KILL "$pid" 2>/dev/null || true
    if pid=$(live_pid "$rundir"); then kill -KILL "$pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -f "$rundir/xenstored.pid" "$sock"
    exit 1
}

cmd_stop() {
    local rundir pid i
    rundir=$(abs_rundir "${1:-}")
    if pid=$(live_pid "$rundir"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 500; i++)); do # 5 s
            live_pid "$rundir" >/dev/null || break
            sleep 0.01
        done
        if live_pid "$rundir" >/dev/null; then
            log "pid $pid ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 200; i++)); do
                live_pid "$rundir" >/dev/null || break
                sleep 0.01
            done
            live_pid "$rundir" >/dev/null && die "could not kill pid $pid"
        fi
        log "stopped xenstored pid $pid"
    fi
    if [[ -d $rundir ]]; then
        rm -f "$rundir/xenstored.pid" "$rundir/socket" "$rundir/evtchn" "$rundir"/ring-*
    fi
}

cmd_status() {
    local rundir pid
    rundir=$(abs_rundir "${1:-}")
    if pid=$(live_pid "$rundir") && answering "$rundir"; then
        printf 'running pid %s socket %s\n' "$pid" "$rundir/socket"
        return 0
    fi
    printf 'not running\n'
    return 1
}

cmd_evtchn() {
    local rundir line
    rundir=$(abs_rundir "${1:-}")
    shift || true
    line="$*"
    [[ -n $line ]] || usage
    live_pid "$rundir" >/dev/null || die "no daemon running in $rundir"
    [[ -p $rundir/evtchn ]] || die "$rundir/evtchn is not a FIFO"
    # The daemon keeps the FIFO open read-write, so this never blocks long.
    timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$line" "$rundir/evtchn"
}

case ${1:-} in
install) cmd_install ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
status) shift; cmd_status "$@" ;;
evtchn) shift; cmd_evtchn "$@" ;;
*) usage ;;
esac
