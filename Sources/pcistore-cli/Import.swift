import ArgumentParser
import Foundation
import PCIStore
import PCIStoreSchema

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record devices assigned at boot from a manifest, where no sysfs can be read (dom0less).",
        discussion: """
            The manifest (schema/manifest.md) lists each device's address, identity, resources and owner; \
            devices without an owner go to the pool. They are recorded with the stub "boot": no driver in any \
            domain holds them. All of the manifest is imported or none of it. A malformed manifest is exit 64 \
            and names the entry and field; a device the store records otherwise is exit 1.

            Example: pcistore import --manifest /boot/pci-manifest.json --dry-run
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dry: DryRun
    @Option(help: ArgumentHelp("The manifest (JSON), or - for standard input.", valueName: "file"))
    var manifest: String

    func run() throws {
        try Output.guarded {
            let data: Data
            if manifest == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let d = FileManager.default.contents(atPath: manifest) else {
                    throw PCIStoreError(.badInput, "cannot read \(manifest)")
                }
                data = d
            }
            let db = try global.database()
            let parsed: BootManifest
            do {
                parsed = try BootManifest(json: Array(data), stamp: db.actor.stamp("import"))
            } catch {
                throw PCIStoreError(.badInput, "\(manifest): \(error)")
            }
            Output.report(try db.importManifest(parsed, dryRun: dry.dryRun), dryRun: dry.dryRun)
        }
    }
}
