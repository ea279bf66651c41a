import Foundation
import PCIStoreSchema
import XenStore

/// What was assigned at boot where no sysfs can be read (dom0less, or a
/// hardware domain that is not up yet): devices, their resources and their
/// owners, as JSON (`schema/manifest.md`). Every field is checked through the
/// same node encoding the database uses, so a manifest can never record
/// what the schema forbids.
public struct BootManifest: Sendable {
    public static let version = 1
    /// The stub recorded for devices no driver holds: Xen gave them at boot.
    public static let bootStub = try! DriverName("boot")

    public var source: String?
    public var records: [DeviceRecord]

    struct Document: Decodable {
        var pcistore_manifest: Int
        var source: String?
        var devices: [Device]
    }

    struct Device: Decodable {
        var address: String
        var vendor: String
        var device: String
        var subvendor: String?
        var subdevice: String?
        var `class`: String?
        var revision: String?
        var domain: Int?
        var name: String?
        var irq: UInt32?
        var msi: Bool?
        var msix: Bool?
        var bars: [DatabaseJSON.Device.Bar]?
        var slot_functions: [Int]?
        var iommu_group: UInt32?
        var group_members: [String]?
        var numa: Int?
    }

    /// Parses and checks a manifest; the error names the entry and field.
    public init(json bytes: [UInt8], stamp: ChangeStamp) throws(SchemaViolation) {
        let doc: Document
        do { doc = try JSONDecoder().decode(Document.self, from: Data(bytes)) } catch {
            throw SchemaViolation(path: "manifest", "not a pcistore manifest: \(Self.explain(error))")
        }
        guard doc.pcistore_manifest == Self.version else {
            throw SchemaViolation(path: "manifest", "pcistore_manifest is \(doc.pcistore_manifest); this pcistore reads \(Self.version)")
        }
        var seen = Set<SBDF>()
        var out: [DeviceRecord] = []
        for (i, d) in doc.devices.enumerated() {
            let at = "manifest devices[\(i)]"
            let a: SBDF
            do { a = try SBDF(d.address) } catch { throw SchemaViolation(path: at + ".address", error.problem) }
            guard seen.insert(a).inserted else { throw SchemaViolation(path: at, "\(a) is listed twice") }
            if let dom = d.domain, dom == 0 || dom > Int(DomID.maxValue) || dom < 0 {
                throw SchemaViolation(path: at + ".domain", "\(dom) is not a guest domain (1…\(DomID.maxValue), or null for the pool)")
            }
            func list(_ xs: [String]) throws(SchemaViolation) -> String {
                var names: [String] = []
                for x in xs {
                    do { names.append(try SBDF(x).nodeName.rawValue) } catch { throw SchemaViolation(path: at + ".group_members", error.problem) }
                }
                return names.isEmpty ? "none" : names.joined(separator: ",")
            }
            let bars = (d.bars ?? []).map { "bar\($0.index)=\($0.kind):\($0.start)+\($0.size)" }
            var nodes: [String: String] = [
                "identity": "vendor=\(d.vendor) device=\(d.device) subvendor=\(d.subvendor ?? "0000") subdevice=\(d.subdevice ?? "0000") class=\(d.class ?? "000000") revision=\(d.revision ?? "00")",
                "topology": "slot-functions=\((d.slot_functions ?? [Int(a.function)]).map(String.init).joined(separator: ",")) iommu-group=\(d.iommu_group.map(String.init) ?? "none") group-members=\(try list(d.group_members ?? [])) physfn=none virtfns=none numa=\(d.numa ?? -1)",
                "resources": (["irq=\(d.irq ?? 0)", "msi=\(d.msi == true ? 1 : 0)", "msix=\(d.msix == true ? 1 : 0)"] + bars).joined(separator: " "),
                "state": d.domain == nil ? DeviceState.assignable.rawValue : DeviceState.assigned.rawValue,
                "domain": d.domain.map(String.init) ?? "none",
                "driver": "none", "stub": Self.bootStub.rawValue, "reset": "none", "changed": stamp.encoded,
            ]
            if let n = d.name { nodes["name"] = n }
            let r = try DeviceRecord(address: a, nodes: nodes, at: at)
            if let p = r.problems.first { throw SchemaViolation(path: at, p) }
            out.append(r)
        }
        source = doc.source
        records = out.sorted { $0.address < $1.address }
    }

    /// JSONDecoder's errors name the coding path; say it the way a person
    /// editing the file looks for it.
    static func explain(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        switch e {
        case .keyNotFound(let k, let c): return "\(path(c.codingPath + [k])) is missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        case .dataCorrupted(let c): return "\(path(c.codingPath).isEmpty ? "JSON" : path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
