import ArgumentParser
import Foundation
import PCIStore
import PCIStoreSchema
import XenStore

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List recorded devices.",
        discussion: "Example: pcistore list --state assigned --domain 5")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only devices in this state (present, assignable, assigned, seizing, returning).") var state: String?
    @Option(help: "Only devices of this domain.", transform: Parse.guest) var domain: DomID?
    @Option(help: "Only the device with this name.") var name: String?
    @Flag(help: "One JSON document (schema/json.md).") var json = false

    func validate() throws {
        if let state, DeviceState(rawValue: state) == nil {
            throw ValidationError("unknown state '\(state)'; one of \(DeviceState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        try Output.guarded {
            let reading = try global.database().read()
            let rows = reading.image.devices.values.filter { r in
                (state == nil || r.state.rawValue == state) && (domain == nil || r.domain == domain)
                    && (name == nil || r.name?.rawValue == name)
            }
            Output.devices(rows, json: json)
            Output.violations(reading.violations)
        }
    }
}

struct AssignableList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assignable-list",
        abstract: "List assignable devices (like xl pci-assignable-list).",
        discussion: "Example: pcistore assignable-list")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "One JSON document (schema/json.md).") var json = false

    func run() throws {
        try Output.guarded {
            let reading = try global.database().read()
            let rows = reading.image.devices.values.filter { $0.state == .assignable }
            if json { Output.devices(rows, json: true) } else {
                for r in rows.sorted(by: { $0.address < $1.address }) { print(r.address.description + (r.name.map { " \($0)" } ?? "")) }
            }
            Output.violations(reading.violations)
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show everything recorded about one device.",
        discussion: "Example: pcistore show 0000:03:00.0")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "One JSON document (schema/json.md).") var json = false
    @Argument(help: "PCI address or name.") var device: String

    func run() throws {
        try Output.guarded {
            let db = try global.database()
            let a = try db.resolve(device)
            guard let r = try db.record(a) else { throw PCIStoreError(.badInput, "\(a) is not in the database; run `pcistore discover` first") }
            if json { print(DatabaseJSON.encodeValue(DatabaseJSON.device(r))); return }
            let t = r.topology, res = r.resources
            var lines: [(String, String)] = [
                ("address", r.address.description), ("name", r.name?.rawValue ?? "-"), ("state", r.state.rawValue),
                ("domain", r.domain?.description ?? "-"), ("driver", r.originalDriver?.rawValue ?? "-"), ("stub", r.stub?.rawValue ?? "-"),
                ("reset", r.lastReset ?? "-"), ("identity", r.identity.encoded),
                ("slot", "\(r.address.slotName) functions \(t.slotFunctions.map(String.init).joined(separator: ","))"),
                ("iommu group", t.iommuGroup.map { "\($0): " + t.groupMembers.map(\.description).joined(separator: " ") } ?? "-"),
                ("sr-iov", t.physfn.map { "virtual function of \($0)" } ?? (t.virtfns.isEmpty ? "-" : "virtual functions " + t.virtfns.map(\.description).joined(separator: " "))),
                ("numa node", String(t.numaNode)), ("irq", res.irq == 0 ? "-" : String(res.irq)),
                ("msi/msi-x", "\(res.msi ? "msi" : "-") \(res.msix ? "msi-x" : "-")"),
            ]
            for b in res.bars { lines.append(("bar\(b.index)", "\(b.kind.rawValue) 0x\(String(b.start, radix: 16)) size 0x\(String(b.size, radix: 16))")) }
            if r.splitOverride { lines.append(("override", "assigned without the rest of its slot or group")) }
            lines.append(("changed", r.changed.encoded))
            // Newest first, as an admin reads a log backwards.
            for (i, e) in r.history.entries.reversed().enumerated() {
                lines.append((i == 0 ? "history" : "", "\(ChangeStamp.rfc3339Text(e.stamp.time)) \(e.stamp.tool) \(e.stamp.operation) by \(e.stamp.domain)"
                    + " -> \(e.state.rawValue)\(e.domain.map { " domain \($0)" } ?? "")"))
            }
            for (k, v) in lines { print(k.padding(toLength: 12, withPad: " ", startingAt: 0) + v) }
        }
    }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the whole database, as JSON or in xenstore-ls -f form.",
        discussion: "Example: pcistore dump --format xenstore > pci.xenstore")
    enum Format: String, ExpressibleByArgument { case json, xenstore }
    @OptionGroup var global: GlobalOptions
    @Option(help: "json (default) or xenstore.") var format: Format = .json
    @Flag(help: "Same as --format json.") var json = false

    func run() throws {
        try Output.guarded {
            let reading = try global.database().read()
            if format == .xenstore && !json { print(reading.image.xenstoreText, terminator: "") } else {
                print(DatabaseJSON.encode(Array(reading.image.devices.values)))
            }
            Output.violations(reading.violations)
        }
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a dump (either form) back into an empty database, or over it with --replace.",
        discussion: "Example: pcistore restore --replace pci.xenstore")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dry: DryRun
    @Flag(help: "Replace what the database holds.") var replace = false
    @Argument(help: "A file written by `pcistore dump`.") var file: String

    func run() throws {
        try Output.guarded {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw PCIStoreError(.badInput, "cannot read \(file)")
            }
            let bytes = Array(data)
            let entries: [(XenStorePath, String)]
            do {
                entries = bytes.first == UInt8(ascii: "{") ? try DatabaseJSON.entries(fromJSON: bytes)
                    : try DatabaseImage.parseXenstoreText(String(decoding: bytes, as: UTF8.self))
            } catch { throw PCIStoreError(.badInput, "\(file): \(error)") }
            Output.report(try global.database().restore(entries, replace: replace, dryRun: dry.dryRun), dryRun: dry.dryRun, verbose: false)
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate every node and invariant (and the bus, with --sysfs); --repair fixes what is unambiguous.",
        discussion: "Exits 1 when a problem remains.\n\nExample: pcistore check --repair")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Also compare the records with this sysfs root.") var sysfs: String?
    @Flag(help: "Fix the name index, finish or roll back work left by killed commands.") var repair = false
    @OptionGroup var dry: DryRun
    @Flag(help: "One JSON document.") var json = false

    func run() throws {
        try Output.guarded {
            let root = sysfs ?? Environment.current["PCISTORE_SYSFS"]
            let r = try global.database().check(sysfs: root.map { Sysfs(root: $0) } ?? (repair ? Sysfs() : nil), repair: repair,
                                                 dryRun: dry.dryRun)
            if json {
                struct Doc: Encodable { let devices: Int; let problems: [[String: String]]; let repaired: [String] }
                print(DatabaseJSON.encodeValue(Doc(devices: r.devices, problems: r.problems.map { ["path": $0.path, "problem": $0.problem] }, repaired: r.repaired)))
            } else {
                for line in r.repaired { print("\(dry.dryRun ? "dry run" : "repaired"): \(line)") }
                for p in r.problems { print("\(p.path): \(p.problem)") }
                print("\(r.devices) devices, \(r.problems.count) problems")
            }
            if !r.problems.isEmpty { throw ExitCode(1) }
        }
    }
}
