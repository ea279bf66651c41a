#compdef pcistore

__pcistore_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__pcistore_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __pcistore_complete "${completions[@]:0:-1}"
    fi
}

__pcistore_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_pcistore() {
    emulate -RL zsh -G
    setopt extendedglob nullglob numericglobsort
    unsetopt aliases banghist

    local -xr SAP_SHELL=zsh
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(builtin emulate zsh -c 'printf %s "${ZSH_VERSION}"')"
    local -r SAP_SHELL_VERSION

    local context state state_descr line
    local -A opt_args

    local -r command_name="${words[1]}"
    local -ar command_line=("${words[@]}")
    local -ir current_word_index="$((CURRENT - 1))"

    local -i ret=1
    local -ar arg_specs=(
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'discover:Read the PCI bus from sysfs and record or refresh every device.'
            'list:List recorded devices.'
            'show:Show everything recorded about one device.'
            'assignable-list:List assignable devices (like xl pci-assignable-list).'
            'assignable-add:Make devices assignable: remember their driver, hold them with a stub driver.'
            'assignable-remove:Take a device out of the pool; with --rebind, give it back to its original driver.'
            'assign:Give assignable devices to a domain, with their whole slot and IOMMU group.'
            'release:Return assigned devices to the pool (reset, assignable again).'
            'reconcile:Release the devices of domains that no longer exist (reset, assignable again).'
            'daemon:Run until stopped, giving back the devices of each domain that goes.'
            'watch:Print database events as they happen: a snapshot, then one line per device change.'
            'dump:Print the whole database, as JSON or in xenstore-ls -f form.'
            'restore:Write a dump (either form) back into an empty database, or over it with --replace.'
            'check:Validate every node and invariant (and the bus, with --sysfs); --repair fixes what is unambiguous.'
            'adopt:Record the devices xl already made assignable, without touching the bus.'
            'import:Record devices assigned at boot from a manifest, where no sysfs can be read (dom0less).'
            'agent:Serve the toolstack'\''s requests for this domain'\''s PCI bus (run in the domain that owns the bus).'
            'agent-register:Create the area through which a domain'\''s agent serves its PCI buses (run in dom0).'
            'agent-unregister:Remove a domain'\''s agent area; its devices are acted on directly again.'
            'agent-list:List the registered agents: buses, heartbeat, requests in flight, discovery.'
            'agent-wait:Wait for a request sent to an agent (by a command that died, say) and apply its answer.'
            'store:Read and write XenStore nodes directly (like xenstore-read/-write/-ls/-rm).'
            'serve:Serve the embedded XenStore engine on a unix socket, speaking xenstored'\''s wire protocol.'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        discover|list|show|assignable-list|assignable-add|assignable-remove|assign|release|reconcile|daemon|watch|dump|restore|check|adopt|import|agent|agent-register|agent-unregister|agent-list|agent-wait|store|serve|help)
            "_pcistore_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_pcistore_discover() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--timeout[When the devices belong to an agent\: seconds to wait for its answer.]:seconds:'
        '--down-after[Seconds the agent'\''s heartbeat may stand still before it counts as down (default\: three heartbeats, at least 5).]:seconds:'
        '--request-id[Id of the request sent to the agent (default\: a new one); the same id again waits for that request instead of sending another.]:id:'
        '--cached[Record what the agents published last, without asking them to read their bus again.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_list() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--state[Only devices in this state (present, assignable, assigned, seizing, returning).]:state:'
        '--domain[Only devices of this domain.]:domain:'
        '--name[Only the device with this name.]:name:'
        '--json[One JSON document (schema/json.md).]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_show() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--json[One JSON document (schema/json.md).]'
        ':device:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_assignable-list() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--json[One JSON document (schema/json.md).]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_assignable-add() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--name[A unique name for the device (one device only).]:name:'
        '--stub[Stub driver\: pciback, vfio-pci or pci-stub.]:stub:'
        '*:devices:'
        '--timeout[When the devices belong to an agent\: seconds to wait for its answer.]:seconds:'
        '--down-after[Seconds the agent'\''s heartbeat may stand still before it counts as down (default\: three heartbeats, at least 5).]:seconds:'
        '--request-id[Id of the request sent to the agent (default\: a new one); the same id again waits for that request instead of sending another.]:id:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_assignable-remove() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '(-r --rebind)'{-r,--rebind}'[Bind the driver it was taken from again.]'
        '--name[The device'\''s name (instead of an address).]:name:'
        ':device:'
        '--timeout[When the devices belong to an agent\: seconds to wait for its answer.]:seconds:'
        '--down-after[Seconds the agent'\''s heartbeat may stand still before it counts as down (default\: three heartbeats, at least 5).]:seconds:'
        '--request-id[Id of the request sent to the agent (default\: a new one); the same id again waits for that request instead of sending another.]:id:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_assign() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--domain[The guest domain id, 1…32751.]:domain:'
        '--allow-split[Assign only the named devices even if their slot or IOMMU group has others (recorded).]'
        '*:devices:'
        '--timeout[When the devices belong to an agent\: seconds to wait for its answer.]:seconds:'
        '--down-after[Seconds the agent'\''s heartbeat may stand still before it counts as down (default\: three heartbeats, at least 5).]:seconds:'
        '--request-id[Id of the request sent to the agent (default\: a new one); the same id again waits for that request instead of sending another.]:id:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_release() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--domain[Release every device of this domain.]:domain:'
        '*:devices:'
        '--timeout[When the devices belong to an agent\: seconds to wait for its answer.]:seconds:'
        '--down-after[Seconds the agent'\''s heartbeat may stand still before it counts as down (default\: three heartbeats, at least 5).]:seconds:'
        '--request-id[Id of the request sent to the agent (default\: a new one); the same id again waits for that request instead of sending another.]:id:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_reconcile() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--json[One JSON document (schema/json.md).]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_daemon() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_watch() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--json[One JSON object per line.]'
        '--domain[Only devices of this domain.]:domain:'
        '--state[Only devices in this state.]:state:'
        '*:devices:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_dump() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--format[json (default) or xenstore.]:format:'
        '--json[Same as --format json.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_restore() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--replace[Replace what the database holds.]'
        ':file:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_check() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Also compare the records with this sysfs root.]:sysfs:'
        '--repair[Fix the name index, finish or roll back work left by killed commands.]'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--json[One JSON document.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_adopt() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_import() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--manifest[The manifest (JSON), or - for standard input.]:file:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_agent() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--sysfs[Root of sysfs (default\: $PCISTORE_SYSFS, else /sys).]:root:'
        '--domain[The domain this agent serves as (default\: $PCISTORE_AGENT_DOMAIN, else 0).]:domid:'
        '--heartbeat[Seconds between heartbeats.]:seconds:'
        '--refresh[Seconds between readings of the bus (published when it changed).]:seconds:'
        '--page-bytes[Longest value written (a discovery page); lower it when the store'\''s node quota is smaller than cxenstored'\''s 2048 bytes.]:bytes:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_agent-register() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--domain[The agent'\''s domain (0 when dom0 runs it).]:domid:'
        '*--bus[A bus the agent serves (0000\:03); repeat for more. Default\: every bus it sees.]:bus:'
        '--slots[Request slots (requests in flight at once).]:slots:'
        '--pages[Discovery pages (the default holds 256 devices at the least).]:pages:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_agent-unregister() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--dry-run[Print exactly what would be written and done; change nothing.]'
        '--domain[The agent'\''s domain.]:domid:'
        '--force[Remove it even with requests in flight (their results are lost).]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_agent-list() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--json[One JSON document.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_agent-wait() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        '--domain[The agent'\''s domain (default\: the one holding the request).]:domid:'
        '--timeout[When the devices belong to an agent\: seconds to wait for its answer.]:seconds:'
        '--down-after[Seconds the agent'\''s heartbeat may stand still before it counts as down (default\: three heartbeats, at least 5).]:seconds:'
        '--request-id[Id of the request sent to the agent (default\: a new one); the same id again waits for that request instead of sending another.]:id:'
        ':id:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_store() {
    local -i ret=1
    local -ar arg_specs=(
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'read:Print a node'\''s value.'
            'write:Set a node'\''s value, creating missing parents.'
            'ls:List a subtree as `path = "value"` lines (xenstore-ls -f form).'
            'rm:Remove a node and everything below it.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        read|write|ls|rm)
            "_pcistore_store_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_pcistore_store_read() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        ':path:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_store_write() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        ':path:'
        ':value:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_store_ls() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        ':path:'
        '-p[Show permissions too (like xenstore-ls -p).]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_store_rm() {
    local -i ret=1
    local -ar arg_specs=(
        '--store[xenstore, file\:PATH or auto (default\: $PCISTORE_STORE, else auto).]:store:'
        ':path:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_serve() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[Where to listen (replaces a stale socket; refuses a live one).]:path:'
        '--state[Keep the store in this file.]:file:'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcistore_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _pcistore ]]; then
    _pcistore "${@}"
else
    compdef _pcistore pcistore
fi
