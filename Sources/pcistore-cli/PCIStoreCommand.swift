import ArgumentParser
import PCIStore
import XenStore

@main
struct PCIStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcistore",
        abstract: "The state of PCI passthrough, kept in XenStore.",
        discussion: """
            Devices are named by PCI address (0000:03:00.0, 03:00.0, or 0000-03-00-0) or by the name \
            given with assignable-add --name. The database lives under /local/pci (schema/ in the source).

            Stores: --store xenstore (the daemon, via libxenstore; honours XENSTORED_PATH), \
            --store file:PATH (the embedded engine in a file), or PCISTORE_STORE. By default the \
            daemon is used when one answers, else the embedded store in the state directory. \
            Commands that read or write sysfs take --sysfs ROOT (or PCISTORE_SYSFS; default /sys).

            Exit codes: 0 ok; 1 refused by state or invariant (e.g. no such node), or an agent's \
            failure; 64 bad usage or input; 69 store unreachable or agent down; 75 transaction retries \
            exhausted, or an agent busy or too slow; 77 permission denied.

            Example: pcistore discover && pcistore assignable-add --name nic0 03:00.0 && pcistore assign --domain 5 nic0
            """,
        subcommands: [
            Discover.self, List.self, Show.self, AssignableList.self, AssignableAdd.self, AssignableRemove.self,
            Assign.self, Release.self, Reconcile.self, Daemon.self, Watch.self, Dump.self, Restore.self, Check.self,
            Adopt.self, Import.self, Agent.self, AgentRegister.self, AgentUnregister.self, AgentList.self, AgentWait.self,
            Store.self, Serve.self,
        ]
    )
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("xenstore, file:PATH or auto (default: $PCISTORE_STORE, else auto).",
                                            valueName: "store"))
    var store: String?

    /// Opens the store, saying once on stderr when it fell back to the embedded one.
    func open() throws -> any XenStoreConnection {
        let env = Environment.current
        let opened = try StoreLocation.resolve(option: store, environment: env).open(environment: env)
        if let notice = opened.fallbackNotice { Output.note(notice) }
        return opened.connection
    }

    func database() throws -> PCIDatabase { PCIDatabase(store: try open()) }

    /// A database, and the way back to the same store for a long-running
    /// command: `auto` is decided once, so a daemon that goes away is waited
    /// for, never swapped for the embedded store behind the user's back.
    func session() throws -> (database: PCIDatabase, reconnect: @Sendable () throws -> PCIDatabase) {
        let env = Environment.current
        let opened = try StoreLocation.resolve(option: store, environment: env).open(environment: env)
        if let notice = opened.fallbackNotice { Output.note(notice) }
        let location = opened.location
        return (PCIDatabase(store: opened.connection), { PCIDatabase(store: try location.open(environment: env).connection) })
    }
}

/// For commands that touch the bus.
struct SysfsOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Root of sysfs (default: $PCISTORE_SYSFS, else /sys).", valueName: "root"))
    var sysfs: String?

    /// On the real `/sys` of a Xen control domain, Xen too (quarantine);
    /// never for another root, which is a test's or a copy.
    var value: Sysfs {
        let root = sysfs ?? Environment.current["PCISTORE_SYSFS"] ?? "/sys"
        return Sysfs(root: root, hypervisor: root == "/sys" || root == "/sys/" ? Hypervisor.open() : nil)
    }
}

struct DryRun: ParsableArguments {
    @Flag(name: .long, help: "Print exactly what would be written and done; change nothing.")
    var dryRun = false
}
