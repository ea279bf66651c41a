import XenStore

/// Where the PCI database lives in XenStore (schema v1).
///
///     /local/pci                                   n0: dom0 only
///     /local/pci/schema = "1"
///     /local/pci/devices/DDDD/BB/DDDD-BB-SS-F/…    one directory per function
///     /local/pci/names/HH/HH/NAME = "DDDD-BB-SS-F" the name index
///     /local/pci/pending/DDDD-BB-SS-F = "op=… pid=… start=…"  binding work in flight
///
/// Devices sit two levels down (segment, then bus) and names behind two
/// levels of hash buckets, so no directory outgrows one 4096-byte `DIRECTORY`
/// reply even with a full segment of 65,536 functions: clients without
/// `DIRECTORY_PART` (pyxs) can list every level.
public enum PCIStoreLayout {
    public static let root: XenStorePath = "/local/pci"
    public static let rootPermissions = XenStorePermissions(owner: .dom0, others: .none)
    public static let schemaNode: XenStorePath = "/local/pci/schema"
    public static let schemaVersion = "1"
    public static let devices: XenStorePath = "/local/pci/devices"
    public static let names: XenStorePath = "/local/pci/names"
    public static let pending: XenStorePath = "/local/pci/pending"

    public static func pending(_ a: SBDF) -> XenStorePath { try! pending.appending(a.nodeName) }

    public static func segmentName(_ a: SBDF) -> XenStoreNodeName {
        XenStoreNodeName(stringLiteral: Text.hex(UInt64(a.segment), width: 4))
    }

    public static func busName(_ a: SBDF) -> XenStoreNodeName {
        XenStoreNodeName(stringLiteral: Text.hex(UInt64(a.bus), width: 2))
    }

    public static func device(_ a: SBDF) -> XenStorePath {
        try! devices.appending(segmentName(a), busName(a), a.nodeName)
    }

    public static func node(_ a: SBDF, _ leaf: XenStoreNodeName) -> XenStorePath {
        try! device(a).appending(leaf)
    }

    public static func name(_ n: DeviceName) -> XenStorePath {
        let (a, b) = n.indexBuckets
        return try! names.appending(XenStoreNodeName(stringLiteral: a), XenStoreNodeName(stringLiteral: b),
                                    XenStoreNodeName(stringLiteral: n.rawValue))
    }
}
