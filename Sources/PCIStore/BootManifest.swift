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
            var members: [String] = []
            for x in d.group_members ?? [] {
                do { members.append(try SBDF(x).description) } catch { throw SchemaViolation(path: at + ".group_members", error.problem) }
            }
            // Through the dump's own JSON form, so a manifest is checked by
            // the same encoding as every other way in.
            let device = DatabaseJSON.Device(
                address: a.description, node: a.nodeName.rawValue,
                state: (d.domain == nil ? DeviceState.assignable : .assigned).rawValue,
                domain: d.domain.map { UInt16($0) }, name: d.name, driver: nil, stub: Self.bootStub.rawValue, reset: nil,
                override: false,
                identity: .init(vendor: d.vendor, device: d.device, subvendor: d.subvendor ?? "0000", subdevice: d.subdevice ?? "0000",
                                class: d.class ?? "000000", revision: d.revision ?? "00"),
                topology: .init(slot_functions: d.slot_functions ?? [Int(a.function)], iommu_group: d.iommu_group,
                                group_members: members, physfn: nil, virtfns: [], numa: d.numa ?? -1),
                resources: .init(irq: d.irq ?? 0, msi: d.msi == true, msix: d.msix == true, bars: d.bars ?? []),
                changed: .init(at: ChangeStamp.rfc3339Text(stamp.time), by: stamp.domain, tool: stamp.tool, op: stamp.operation),
                history: nil)
            let r = try DatabaseJSON.record(device, at: at)
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
