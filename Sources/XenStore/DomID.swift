/// A Xen domain id: 0…32751 (`DOMID_FIRST_RESERVED` is 0x7FF0).
public struct DomID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16

    /// The control domain; privileged on the XenStore socket.
    public static let dom0 = DomID(unchecked: 0)
    /// Largest id of a real domain (0x7FEF); the ones above are reserved.
    public static let maxValue: UInt16 = 0x7FEF

    public init(_ value: Int) throws(XenStoreError) {
        guard value >= 0, value <= Int(DomID.maxValue) else {
            throw XenStoreError(.invalidArgument, .parse, path: String(value),
                                detail: "domain ids are 0…\(DomID.maxValue)")
        }
        rawValue = UInt16(value)
    }

    /// Parses decimal text as the tools print it (`5`), nothing else.
    public init(_ text: String) throws(XenStoreError) {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let v = Int(text)
        else {
            throw XenStoreError(.invalidArgument, .parse, path: text,
                                detail: "a domain id is a decimal number 0…\(DomID.maxValue)")
        }
        try self.init(v)
    }

    init(unchecked value: UInt16) { rawValue = value }

    public var description: String { String(rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
