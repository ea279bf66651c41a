import ArgumentParser
import Foundation
import PCIStore
import PCIStoreSchema
import XenStore

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print database events as they happen: a snapshot, then one line per device change.",
        discussion: """
            With --json, one object per line (schema/events.md): {"event":"snapshot","devices":[…]}, then \
            {"event":"added"|"removed"|"changed","address":…,"aspects":[…],"old":…,"new":…}; after a lost connection or a \
            reader that fell behind, {"event":"resync","devices":[…]}. Waits for a store that goes away to come back. \
            Ends with exit 0 on SIGINT or SIGTERM.

            Example: pcistore watch --json --domain 5
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "One JSON object per line.") var json = false
    @Option(help: "Only devices of this domain.", transform: Parse.guest) var domain: DomID?
    @Option(help: "Only devices in this state.") var state: String?
    @Argument(help: "Only these devices (addresses).", transform: Parse.address) var devices: [SBDF] = []

    func validate() throws {
        if let state, DeviceState(rawValue: state) == nil { throw ValidationError("unknown state '\(state)'") }
    }

    func run() async throws {
        let filter = PCIEventFilter(devices: devices.isEmpty ? nil : Set(devices), domain: domain,
                                    state: state.flatMap(DeviceState.init(rawValue:)))
        let json = self.json
        do {
            let (db, reconnect) = try global.session()
            let stream = try db.events(filter, reconnect: reconnect)
            // SIGINT/SIGTERM cancel the loop: the stream ends, its watch is
            // removed, and the process exits 0.
            try await LongRunning.run("watch") {
                for try await event in stream {
                    // Unbuffered: a reader on a pipe sees each event as it happens.
                    FileHandle.standardOutput.write(Data(((json ? EventJSON.line(event) : EventJSON.text(event)) + "\n").utf8))
                }
            }
        } catch {
            throw Output.reported(error)
        }
    }
}

/// The event lines `watch` prints.
enum EventJSON {
    struct Line: Encodable {
        var event: String
        var devices: [DatabaseJSON.Device]?
        var address: String?
        var aspects: [String]?
        var old: DatabaseJSON.Device?
        var new: DatabaseJSON.Device?
    }

    static func line(_ e: PCIEvent) -> String {
        let l: Line
        switch e {
        case .snapshot(let rs): l = Line(event: "snapshot", devices: rs.map(DatabaseJSON.device))
        case .resync(let rs): l = Line(event: "resync", devices: rs.map(DatabaseJSON.device))
        case .added(let r): l = Line(event: "added", address: r.address.description, new: DatabaseJSON.device(r))
        case .removed(let r): l = Line(event: "removed", address: r.address.description, old: DatabaseJSON.device(r))
        case .changed(let o, let n, let a):
            l = Line(event: "changed", address: n.address.description, aspects: a.sorted().map(\.rawValue),
                     old: DatabaseJSON.device(o), new: DatabaseJSON.device(n))
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(l), as: UTF8.self)
    }

    static func text(_ e: PCIEvent) -> String {
        func describe(_ r: DeviceRecord) -> String {
            "\(r.address) \(r.state.rawValue)\(r.domain.map { " domain \($0)" } ?? "")\(r.name.map { " name \($0)" } ?? "")"
        }
        switch e {
        case .snapshot(let rs): return "snapshot: \(rs.count) devices" + rs.map { "\n  " + describe($0) }.joined()
        case .resync(let rs): return "resync: \(rs.count) devices" + rs.map { "\n  " + describe($0) }.joined()
        case .added(let r): return "added \(describe(r))"
        case .removed(let r): return "removed \(r.address)"
        case .changed(_, let n, let a): return "changed (\(a.sorted().map(\.rawValue).joined(separator: ","))) \(describe(n))"
        }
    }
}
