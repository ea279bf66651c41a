import Foundation
import PCIStoreSchema
import XenStore

/// The JSON form of the database (`dump`, `list --json`, `show --json`):
/// stable keys (sorted), one document. 64-bit values are hex strings, so no
/// JSON reader rounds them. Documented in `schema/json.md`.
public enum DatabaseJSON {
    public struct Document: Codable, Equatable, Sendable {
        public var schema: String
        public var devices: [Device]
    }

    public struct Device: Codable, Equatable, Sendable {
        public struct Identity: Codable, Equatable, Sendable {
            var vendor, device, subvendor, subdevice, `class`, revision: String
        }
        public struct Topology: Codable, Equatable, Sendable {
            var slot_functions: [Int]
            var iommu_group: UInt32?
            var group_members: [String]
            var physfn: String?
            var virtfns: [String]
            var numa: Int

            /// Absent values are `null`, never left out (schema/json.md).
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(slot_functions, forKey: .slot_functions)
                try c.encode(iommu_group, forKey: .iommu_group)
                try c.encode(group_members, forKey: .group_members)
                try c.encode(physfn, forKey: .physfn)
                try c.encode(virtfns, forKey: .virtfns)
                try c.encode(numa, forKey: .numa)
            }
        }
        public struct Bar: Codable, Equatable, Sendable {
            var index: Int
            var kind: String
            var start: String
            var size: String
        }
        public struct Resources: Codable, Equatable, Sendable {
            var irq: UInt32
            var msi: Bool
            var msix: Bool
            var bars: [Bar]
        }
        public struct Changed: Codable, Equatable, Sendable {
            var at: String
            var by: UInt16
            var tool: String
            var op: String
        }
        var address: String
        var node: String
        var state: String
        var domain: UInt16?
        var name: String?
        var driver: String?
        var stub: String?
        var reset: String?
        var override: Bool
        var identity: Identity
        var topology: Topology
        var resources: Resources
        var changed: Changed
        /// Oldest first; read as empty from dumps made before history existed.
        var history: [HistoryEntry]?

        public struct HistoryEntry: Codable, Equatable, Sendable {
            var at: String
            var by: UInt16
            var tool: String
            var op: String
            var state: String
            var domain: UInt16?

            /// `domain` is `null` when none, never left out.
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(at, forKey: .at)
                try c.encode(by, forKey: .by)
                try c.encode(tool, forKey: .tool)
                try c.encode(op, forKey: .op)
                try c.encode(state, forKey: .state)
                try c.encode(domain, forKey: .domain)
            }
        }

        /// Absent values are `null`, never left out (schema/json.md).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(address, forKey: .address)
            try c.encode(node, forKey: .node)
            try c.encode(state, forKey: .state)
            try c.encode(domain, forKey: .domain)
            try c.encode(name, forKey: .name)
            try c.encode(driver, forKey: .driver)
            try c.encode(stub, forKey: .stub)
            try c.encode(reset, forKey: .reset)
            try c.encode(override, forKey: .override)
            try c.encode(identity, forKey: .identity)
            try c.encode(topology, forKey: .topology)
            try c.encode(resources, forKey: .resources)
            try c.encode(changed, forKey: .changed)
            try c.encode(history ?? [], forKey: .history)
        }
    }

    static func hex(_ v: UInt64, _ w: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }

    public static func device(_ r: DeviceRecord) -> Device {
        let i = r.identity, t = r.topology, res = r.resources
        let stampFields = Dictionary(uniqueKeysWithValues: r.changed.encoded.split(separator: " ").map {
            let kv = $0.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), String(kv[1]))
        })
        return Device(
            address: r.address.description, node: r.address.nodeName.rawValue, state: r.state.rawValue,
            domain: r.domain?.rawValue, name: r.name?.rawValue, driver: r.originalDriver?.rawValue, stub: r.stub?.rawValue,
            reset: r.lastReset, override: r.splitOverride,
            identity: .init(vendor: hex(UInt64(i.vendor), 4), device: hex(UInt64(i.device), 4), subvendor: hex(UInt64(i.subsystemVendor), 4),
                            subdevice: hex(UInt64(i.subsystemDevice), 4), class: hex(UInt64(i.classCode), 6), revision: hex(UInt64(i.revision), 2)),
            topology: .init(slot_functions: t.slotFunctions.map(Int.init), iommu_group: t.iommuGroup,
                            group_members: t.groupMembers.map(\.description), physfn: t.physfn?.description,
                            virtfns: t.virtfns.map(\.description), numa: t.numaNode),
            resources: .init(irq: res.irq, msi: res.msi, msix: res.msix, bars: res.bars.map {
                Device.Bar(index: Int($0.index), kind: $0.kind.rawValue, start: "0x" + hex($0.start, 16), size: "0x" + hex($0.size, 16))
            }),
            changed: .init(at: stampFields["at"] ?? "", by: r.changed.domain, tool: r.changed.tool, op: r.changed.operation),
            history: r.history.entries.map {
                .init(at: ChangeStamp.rfc3339Text($0.stamp.time), by: $0.stamp.domain, tool: $0.stamp.tool, op: $0.stamp.operation,
                      state: $0.state.rawValue, domain: $0.domain?.rawValue)
            })
    }

    /// Back to a record, through the node encoding, so JSON and nodes can
    /// never disagree about what is valid.
    public static func record(_ d: Device, at place: String? = nil) throws(SchemaViolation) -> DeviceRecord {
        let a = try SBDF(d.address)
        let bars = d.resources.bars.map { "bar\($0.index)=\($0.kind):\($0.start)+\($0.size)" }
        func list(_ xs: [String]) -> String {
            xs.isEmpty ? "none" : xs.map { (try? SBDF($0).nodeName.rawValue) ?? $0 }.joined(separator: ",")
        }
        var nodes: [String: String] = [
            "identity": "vendor=\(d.identity.vendor) device=\(d.identity.device) subvendor=\(d.identity.subvendor) subdevice=\(d.identity.subdevice) class=\(d.identity.class) revision=\(d.identity.revision)",
            "topology": "slot-functions=\(d.topology.slot_functions.map(String.init).joined(separator: ",")) iommu-group=\(d.topology.iommu_group.map(String.init) ?? "none") group-members=\(list(d.topology.group_members)) physfn=\(d.topology.physfn.map { (try? SBDF($0).nodeName.rawValue) ?? $0 } ?? "none") virtfns=\(list(d.topology.virtfns)) numa=\(d.topology.numa)",
            "resources": (["irq=\(d.resources.irq)", "msi=\(d.resources.msi ? 1 : 0)", "msix=\(d.resources.msix ? 1 : 0)"] + bars).joined(separator: " "),
            "state": d.state, "domain": d.domain.map(String.init) ?? "none", "driver": d.driver ?? "none", "stub": d.stub ?? "none",
            "reset": d.reset ?? "none", "changed": "at=\(d.changed.at) by=\(d.changed.by) tool=\(d.changed.tool) op=\(d.changed.op)",
        ]
        if let n = d.name { nodes["name"] = n }
        if d.override { nodes["override"] = "split" }
        if let h = d.history, !h.isEmpty {
            nodes["history"] = h.map { "\($0.at)/\($0.by)/\($0.tool)/\($0.op)/\($0.state)/\($0.domain.map(String.init) ?? "none")" }
                .joined(separator: " ")
        }
        return try DeviceRecord(address: a, nodes: nodes, at: place ?? "device \(d.address)")
    }

    public static func encode(_ records: [DeviceRecord]) -> String {
        let doc = Document(schema: PCIStoreLayout.schemaVersion, devices: records.sorted { $0.address < $1.address }.map(device))
        return encodeValue(doc)
    }

    public static func encodeValue<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(v), as: UTF8.self)
    }

    /// A JSON dump to the (path, value) pairs of its tree.
    public static func entries(fromJSON data: [UInt8]) throws(SchemaViolation) -> [(XenStorePath, String)] {
        let doc: Document
        do { doc = try JSONDecoder().decode(Document.self, from: Data(data)) } catch {
            throw SchemaViolation(path: "JSON", "not a pcistore dump: \(error)")
        }
        guard doc.schema == PCIStoreLayout.schemaVersion else {
            throw SchemaViolation(path: "JSON schema", "'\(doc.schema)', this pcistore reads \(PCIStoreLayout.schemaVersion)")
        }
        var image = DatabaseImage()
        for d in doc.devices {
            let r = try record(d)
            guard image.devices[r.address] == nil else { throw SchemaViolation(path: "device \(d.address)", "listed twice") }
            image.devices[r.address] = r
        }
        return image.entries
    }
}
