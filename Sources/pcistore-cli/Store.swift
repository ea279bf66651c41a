import ArgumentParser
import PCIStore
import XenStore

/// Raw XenStore access, for debugging a host and for the main job's smoke test.
struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read and write XenStore nodes directly (like xenstore-read/-write/-ls/-rm).",
        subcommands: [Read.self, Write.self, List.self, Remove.self]
    )

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a node's value.",
            discussion: "Example: pcistore store read /local/pci/schema")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Absolute path of the node.", transform: Parse.path) var path: XenStorePath

        func run() throws {
            try Output.guarded {
                print(XenStoreText.escape(try global.open().read(path)))
            }
        }
    }

    struct Write: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a node's value, creating missing parents.",
            discussion: "Example: pcistore store write /local/pci/note hello")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Absolute path of the node.", transform: Parse.path) var path: XenStorePath
        @Argument(help: "The value (printable ASCII).") var value: String

        func validate() throws {
            guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
                throw ValidationError("values must be printable ASCII")
            }
        }

        func run() throws {
            try Output.guarded { try global.open().write(path, value) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls",
            abstract: "List a subtree as `path = \"value\"` lines (xenstore-ls -f form).",
            discussion: "Example: pcistore store ls /local/pci")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Root of the listing.", transform: Parse.path) var path: XenStorePath = .root
        @Flag(name: .short, help: "Show permissions too (like xenstore-ls -p).") var permissions = false

        func run() throws {
            try Output.guarded {
                for e in try global.open().subtree(path) {
                    let perms = permissions ? "  (\(e.permissions))" : ""
                    print("\(e.path) = \"\(XenStoreText.escape(e.value))\"\(perms)")
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Remove a node and everything below it.",
            discussion: "Example: pcistore store rm /local/pci/note")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Absolute path of the node.", transform: Parse.path) var path: XenStorePath

        func run() throws {
            try Output.guarded { try global.open().remove(path) }
        }
    }
}
