/// One component of a path: non-empty, only `A-Z a-z 0-9 - _ @`.
///
/// `0000:03:00.0` is not one (cxenstored answers `EINVAL`), which is why PCI
/// addresses are stored as `0000-03-00-0`.
public struct XenStoreNodeName: Hashable, Sendable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(_ string: String) throws(XenStoreError) {
        if string.isEmpty {
            throw XenStoreError(.invalidArgument, .parse, path: string, detail: "a node name cannot be empty")
        }
        for (offset, b) in string.utf8.enumerated() where !XenStoreLimits.isNameByte(b) {
            throw XenStoreError(
                .invalidArgument, .parse, path: string,
                detail: "\(XenStorePath.describe(byte: b)) at offset \(offset) is not allowed in a node name; "
                    + "allowed: \(XenStoreLimits.nodeNameCharacters)")
        }
        rawValue = string
    }

    /// For names the program spells itself; a bad literal is a programming error.
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure("invalid node name literal \(value): \(error)") }
    }

    /// Names read back from a daemon were validated by it; trust but check cheaply.
    init(unchecked string: String) { rawValue = string }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
