import ArgumentParser
import PCIStore
import XenStore

@main
struct PCIStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcistore",
        abstract: "The state of PCI passthrough, kept in XenStore.",
        discussion: """
            Stores: --store xenstore (the daemon, via libxenstore; honours XENSTORED_PATH), \
            --store file:PATH (the embedded engine in a file), or PCISTORE_STORE. By default the \
            daemon is used when one answers, else the embedded store in the state directory.

            Exit codes: 0 ok; 1 refused by state or invariant (e.g. no such node); 64 bad usage \
            or input; 69 store unreachable; 75 transaction retries exhausted; 77 permission denied.
            """,
        subcommands: [Store.self]
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
}
