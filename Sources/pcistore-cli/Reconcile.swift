import ArgumentParser
import Foundation
import PCIStore
import PCIStoreSchema
import XenStore

struct Reconcile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Release the devices of domains that no longer exist (reset, assignable again).",
        discussion: """
            An owner is gone when the store does not know it (XS_IS_DOMAIN_INTRODUCED): it was released, \
            or never introduced. Its devices are reset and go back to the pool, stamped tool=reconcile; \
            owners the store knows keep theirs. A domain introduced again while this runs keeps its devices. \
            `pcistore daemon` does the same at start-up and whenever a domain goes. Exits 1 when a gone \
            domain's devices could not be released (the others still are).

            Example: pcistore reconcile --dry-run
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @Flag(help: "One JSON document (schema/json.md).") var json = false

    func run() throws {
        try Output.guarded {
            let r = try global.database().reconcileDeadOwners(sysfs: sysfs.value, dryRun: dry.dryRun)
            if json {
                print(Self.json(r, dryRun: dry.dryRun))
                for n in r.report.notes where n.hasPrefix("warning: ") { Output.note(n) }
            } else {
                Output.report(r.report, dryRun: dry.dryRun)
                print(Self.summary(r, dryRun: dry.dryRun))
            }
            for f in r.failures { Output.note(f.description) }
            if !r.failures.isEmpty { throw ExitCode(1) }
        }
    }

    /// One line: who is live, who is gone, what went back to the pool.
    static func summary(_ r: Reconciliation, dryRun: Bool) -> String {
        func listed(_ ds: [DomID]) -> String { ds.isEmpty ? "" : " (" + ds.map(\.description).joined(separator: " ") + ")" }
        var owners = ["\(r.live.count) live\(listed(r.live))", "\(r.gone.count) gone\(listed(r.gone))"]
        if !r.cameBack.isEmpty { owners.append("\(r.cameBack.count) came back\(listed(r.cameBack))") }
        var line = "owners: " + owners.joined(separator: ", ") + "; "
        if r.released.isEmpty {
            line += "nothing released"
        } else {
            line += (dryRun ? "would release " : "released ")
                + r.released.map { "\($0.address)\($0.lastReset.map { " (reset \($0))" } ?? "")" }.joined(separator: ", ")
        }
        if !r.failures.isEmpty { line += "; \(r.failures.count) failed" }
        return line
    }

    struct Document: Encodable {
        struct Failure: Encodable {
            let domain: UInt16
            let error: String
        }
        let dry_run: Bool
        let live: [UInt16]
        let gone: [UInt16]
        let came_back: [UInt16]
        let released: [DatabaseJSON.Device]
        let failures: [Failure]
        let steps: [String]
        let notes: [String]
    }

    /// The document schema/json.md describes.
    static func json(_ r: Reconciliation, dryRun: Bool) -> String {
        DatabaseJSON.encodeValue(Document(
            dry_run: dryRun, live: r.live.map(\.rawValue), gone: r.gone.map(\.rawValue), came_back: r.cameBack.map(\.rawValue),
            released: r.released.map(DatabaseJSON.device),
            failures: r.failures.map { Document.Failure(domain: $0.domain.rawValue, error: $0.error.message) },
            steps: r.report.steps, notes: r.report.notes))
    }
}
