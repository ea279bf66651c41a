/// A unique name an admin gives a device (`--name nic0`), usable wherever a
/// PCI address is.
///
/// 1–32 characters of `A-Z a-z 0-9 _ -`, starting with a letter: safe as a
/// XenStore node name and in a shell without quoting, and never mistaken for
/// an address (which starts with a digit) or for the word `none`.
public struct DeviceName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public static let maxLength = 32

    public init(_ text: String) throws(SchemaViolation) {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, (65...90).contains(first) || (97...122).contains(first) else {
            throw SchemaViolation(path: Text.printable(text), "a device name starts with a letter")
        }
        guard bytes.count <= Self.maxLength else {
            throw SchemaViolation(path: Text.printable(text), "a device name is at most \(Self.maxLength) characters")
        }
        for b in bytes where !((65...90).contains(b) || (97...122).contains(b) || (48...57).contains(b) || b == 45 || b == 95) {
            throw SchemaViolation(path: Text.printable(text), "a device name uses only A-Z a-z 0-9 _ -")
        }
        guard text != "none" else { throw SchemaViolation(path: text, "'none' is reserved") }
        rawValue = text
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Two hex digits each of the name's FNV-1a hash: the two levels of the
    /// name index, which keep every index directory small at any device count.
    public var indexBuckets: (String, String) {
        var h: UInt32 = 2_166_136_261
        for b in rawValue.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return (Text.hex(UInt64(h >> 24), width: 2), Text.hex(UInt64((h >> 16) & 0xff), width: 2))
    }
}
