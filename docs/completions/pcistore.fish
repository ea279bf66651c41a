function __pcistore_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __pcistore_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __pcistore_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __pcistore_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __pcistore_parse_tokens -S
    set -l unparsed_tokens (__pcistore_tokens -pc)
    switch $unparsed_tokens[1]
    case 'pcistore'
        __pcistore_parse_subcommand 0 'h/help'
        switch $unparsed_tokens[1]
        case 'discover'
            __pcistore_parse_subcommand 0 'store=' 'sysfs=' 'dry-run' 'timeout=' 'down-after=' 'request-id=' 'cached' 'h/help'
        case 'list'
            __pcistore_parse_subcommand 0 'store=' 'state=' 'domain=' 'name=' 'json' 'h/help'
        case 'show'
            __pcistore_parse_subcommand 1 'store=' 'json' 'h/help'
        case 'assignable-list'
            __pcistore_parse_subcommand 0 'store=' 'json' 'h/help'
        case 'assignable-add'
            __pcistore_parse_subcommand -r 1 'store=' 'sysfs=' 'dry-run' 'name=' 'stub=' 'timeout=' 'down-after=' 'request-id=' 'h/help'
        case 'assignable-remove'
            __pcistore_parse_subcommand 1 'store=' 'sysfs=' 'dry-run' 'r/rebind' 'name=' 'timeout=' 'down-after=' 'request-id=' 'h/help'
        case 'assign'
            __pcistore_parse_subcommand -r 1 'store=' 'sysfs=' 'dry-run' 'domain=' 'allow-split' 'timeout=' 'down-after=' 'request-id=' 'h/help'
        case 'release'
            __pcistore_parse_subcommand -r 1 'store=' 'sysfs=' 'dry-run' 'domain=' 'timeout=' 'down-after=' 'request-id=' 'h/help'
        case 'reconcile'
            __pcistore_parse_subcommand 0 'store=' 'sysfs=' 'dry-run' 'json' 'h/help'
        case 'daemon'
            __pcistore_parse_subcommand 0 'store=' 'sysfs=' 'h/help'
        case 'watch'
            __pcistore_parse_subcommand -r 1 'store=' 'json' 'domain=' 'state=' 'h/help'
        case 'dump'
            __pcistore_parse_subcommand 0 'store=' 'format=' 'json' 'h/help'
        case 'restore'
            __pcistore_parse_subcommand 1 'store=' 'dry-run' 'replace' 'h/help'
        case 'check'
            __pcistore_parse_subcommand 0 'store=' 'sysfs=' 'repair' 'dry-run' 'json' 'h/help'
        case 'adopt'
            __pcistore_parse_subcommand 0 'store=' 'sysfs=' 'dry-run' 'h/help'
        case 'import'
            __pcistore_parse_subcommand 0 'store=' 'dry-run' 'manifest=' 'h/help'
        case 'agent'
            __pcistore_parse_subcommand 0 'store=' 'sysfs=' 'domain=' 'heartbeat=' 'refresh=' 'page-bytes=' 'h/help'
        case 'agent-register'
            __pcistore_parse_subcommand 0 'store=' 'dry-run' 'domain=' 'bus=+' 'slots=' 'pages=' 'h/help'
        case 'agent-unregister'
            __pcistore_parse_subcommand 0 'store=' 'dry-run' 'domain=' 'force' 'h/help'
        case 'agent-list'
            __pcistore_parse_subcommand 0 'store=' 'json' 'h/help'
        case 'agent-wait'
            __pcistore_parse_subcommand 1 'store=' 'domain=' 'timeout=' 'down-after=' 'request-id=' 'h/help'
        case 'store'
            __pcistore_parse_subcommand 0 'h/help'
            switch $unparsed_tokens[1]
            case 'read'
                __pcistore_parse_subcommand 1 'store=' 'h/help'
            case 'write'
                __pcistore_parse_subcommand 2 'store=' 'h/help'
            case 'ls'
                __pcistore_parse_subcommand 1 'store=' 'p' 'h/help'
            case 'rm'
                __pcistore_parse_subcommand 1 'store=' 'h/help'
            end
        case 'serve'
            __pcistore_parse_subcommand 0 'socket=' 'state=' 'h/help'
        case 'help'
            __pcistore_parse_subcommand -r 1 
        end
    end
end

function __pcistore_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __pcistore_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __pcistore_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __pcistore_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__pcistore_tokens -p)
    if test -z "$(__pcistore_tokens -t)"
        set -l index (count (__pcistore_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'pcistore' -f
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'discover' -d 'Read the PCI bus from sysfs and record or refresh every device.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'list' -d 'List recorded devices.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'show' -d 'Show everything recorded about one device.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'assignable-list' -d 'List assignable devices (like xl pci-assignable-list).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'assignable-add' -d 'Make devices assignable: remember their driver, hold them with a stub driver.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'assignable-remove' -d 'Take a device out of the pool; with --rebind, give it back to its original driver.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'assign' -d 'Give assignable devices to a domain, with their whole slot and IOMMU group.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'release' -d 'Return assigned devices to the pool (reset, assignable again).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'reconcile' -d 'Release the devices of domains that no longer exist (reset, assignable again).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'daemon' -d 'Run until stopped, giving back the devices of each domain that goes.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'watch' -d 'Print database events as they happen: a snapshot, then one line per device change.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'dump' -d 'Print the whole database, as JSON or in xenstore-ls -f form.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'restore' -d 'Write a dump (either form) back into an empty database, or over it with --replace.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'check' -d 'Validate every node and invariant (and the bus, with --sysfs); --repair fixes what is unambiguous.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'adopt' -d 'Record the devices xl already made assignable, without touching the bus.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'import' -d 'Record devices assigned at boot from a manifest, where no sysfs can be read (dom0less).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'agent' -d 'Serve the toolstack\'s requests for this domain\'s PCI bus (run in the domain that owns the bus).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'agent-register' -d 'Create the area through which a domain\'s agent serves its PCI buses (run in dom0).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'agent-unregister' -d 'Remove a domain\'s agent area; its devices are acted on directly again.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'agent-list' -d 'List the registered agents: buses, heartbeat, requests in flight, discovery.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'agent-wait' -d 'Wait for a request sent to an agent (by a command that died, say) and apply its answer.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'store' -d 'Read and write XenStore nodes directly (like xenstore-read/-write/-ls/-rm).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'serve' -d 'Serve the embedded XenStore engine on a unix socket, speaking xenstored\'s wire protocol.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" timeout' -l 'timeout' -d 'When the devices belong to an agent: seconds to wait for its answer.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" down-after' -l 'down-after' -d 'Seconds the agent\'s heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" request-id' -l 'request-id' -d 'Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" cached' -l 'cached' -d 'Record what the agents published last, without asking them to read their bus again.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore discover" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore list" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore list" state' -l 'state' -d 'Only devices in this state (present, assignable, assigned, seizing, returning).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore list" domain' -l 'domain' -d 'Only devices of this domain.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore list" name' -l 'name' -d 'Only the device with this name.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore list" json' -l 'json' -d 'One JSON document (schema/json.md).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore show" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore show" json' -l 'json' -d 'One JSON document (schema/json.md).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-list" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-list" json' -l 'json' -d 'One JSON document (schema/json.md).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" name' -l 'name' -d 'A unique name for the device (one device only).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" stub' -l 'stub' -d 'Stub driver: pciback, vfio-pci or pci-stub.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" timeout' -l 'timeout' -d 'When the devices belong to an agent: seconds to wait for its answer.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" down-after' -l 'down-after' -d 'Seconds the agent\'s heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" request-id' -l 'request-id' -d 'Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-add" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" r rebind' -s 'r' -l 'rebind' -d 'Bind the driver it was taken from again.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" name' -l 'name' -d 'The device\'s name (instead of an address).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" timeout' -l 'timeout' -d 'When the devices belong to an agent: seconds to wait for its answer.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" down-after' -l 'down-after' -d 'Seconds the agent\'s heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" request-id' -l 'request-id' -d 'Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assignable-remove" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" domain' -l 'domain' -d 'The guest domain id, 1…32751.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" allow-split' -l 'allow-split' -d 'Assign only the named devices even if their slot or IOMMU group has others (recorded).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" timeout' -l 'timeout' -d 'When the devices belong to an agent: seconds to wait for its answer.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" down-after' -l 'down-after' -d 'Seconds the agent\'s heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" request-id' -l 'request-id' -d 'Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore assign" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" domain' -l 'domain' -d 'Release every device of this domain.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" timeout' -l 'timeout' -d 'When the devices belong to an agent: seconds to wait for its answer.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" down-after' -l 'down-after' -d 'Seconds the agent\'s heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" request-id' -l 'request-id' -d 'Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore release" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore reconcile" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore reconcile" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore reconcile" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore reconcile" json' -l 'json' -d 'One JSON document (schema/json.md).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore reconcile" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore daemon" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore daemon" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore daemon" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore watch" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore watch" json' -l 'json' -d 'One JSON object per line.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore watch" domain' -l 'domain' -d 'Only devices of this domain.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore watch" state' -l 'state' -d 'Only devices in this state.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore watch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore dump" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore dump" format' -l 'format' -d 'json (default) or xenstore.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore dump" json' -l 'json' -d 'Same as --format json.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore dump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore restore" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore restore" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore restore" replace' -l 'replace' -d 'Replace what the database holds.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore restore" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore check" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore check" sysfs' -l 'sysfs' -d 'Also compare the records with this sysfs root.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore check" repair' -l 'repair' -d 'Fix the name index, finish or roll back work left by killed commands.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore check" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore check" json' -l 'json' -d 'One JSON document.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore check" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore adopt" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore adopt" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore adopt" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore adopt" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore import" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore import" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore import" manifest' -l 'manifest' -d 'The manifest (JSON), or - for standard input.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore import" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" sysfs' -l 'sysfs' -d 'Root of sysfs (default: $PCISTORE_SYSFS, else /sys).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" domain' -l 'domain' -d 'The domain this agent serves as (default: $PCISTORE_AGENT_DOMAIN, else 0).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" heartbeat' -l 'heartbeat' -d 'Seconds between heartbeats.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" refresh' -l 'refresh' -d 'Seconds between readings of the bus (published when it changed).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" page-bytes' -l 'page-bytes' -d 'Longest value written (a discovery page); lower it when the store\'s node quota is smaller than cxenstored\'s 2048 bytes.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register" domain' -l 'domain' -d 'The agent\'s domain (0 when dom0 runs it).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register"' -l 'bus' -d 'A bus the agent serves (0000:03); repeat for more. Default: every bus it sees.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register" slots' -l 'slots' -d 'Request slots (requests in flight at once).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register" pages' -l 'pages' -d 'Discovery pages (the default holds 256 devices at the least).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-register" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-unregister" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-unregister" dry-run' -l 'dry-run' -d 'Print exactly what would be written and done; change nothing.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-unregister" domain' -l 'domain' -d 'The agent\'s domain.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-unregister" force' -l 'force' -d 'Remove it even with requests in flight (their results are lost).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-unregister" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-list" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-list" json' -l 'json' -d 'One JSON document.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-wait" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-wait" domain' -l 'domain' -d 'The agent\'s domain (default: the one holding the request).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-wait" timeout' -l 'timeout' -d 'When the devices belong to an agent: seconds to wait for its answer.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-wait" down-after' -l 'down-after' -d 'Seconds the agent\'s heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-wait" request-id' -l 'request-id' -d 'Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore agent-wait" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore store" -eq 1' -fa 'read' -d 'Print a node\'s value.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore store" -eq 1' -fa 'write' -d 'Set a node\'s value, creating missing parents.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore store" -eq 1' -fa 'ls' -d 'List a subtree as `path = "value"` lines (xenstore-ls -f form).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_positional "pcistore store" -eq 1' -fa 'rm' -d 'Remove a node and everything below it.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store read" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store read" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store write" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store write" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store ls" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store ls" p' -s 'p' -d 'Show permissions too (like xenstore-ls -p).'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store ls" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store rm" store' -l 'store' -d 'xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore store rm" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore serve" socket' -l 'socket' -d 'Where to listen (replaces a stale socket; refuses a live one).' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore serve" state' -l 'state' -d 'Keep the store in this file.' -rfka ''
complete -c 'pcistore' -n '__pcistore_should_offer_completions_for_flags_or_options "pcistore serve" h help' -s 'h' -l 'help' -d 'Show help information.'
