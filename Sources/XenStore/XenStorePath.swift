/// A validated XenStore path: absolute (`/local/pci`) or a special watch path
/// (`@releaseDomain`, `@introduceDomain`).
///
/// Parsed once at the edge; past that, code never re-checks a path.
/// Absolute paths start with `/`, hold only `A-Z a-z 0-9 - _ @ /`, have no `//`,
/// no trailing `/` (except the root itself) and are at most 3072 bytes.
public struct XenStorePath: Hashable, Sendable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public static let root = XenStorePath(unchecked: "/")
    /// Fires when a domain has been released (it died or was destroyed).
    public static let releaseDomain = XenStorePath(unchecked: "@releaseDomain")
    /// Fires when a domain has been introduced to the daemon.
    public static let introduceDomain = XenStorePath(unchecked: "@introduceDomain")

    public init(_ string: String) throws(XenStoreError) {
        let bytes = Array(string.utf8)
        func bad(_ why: String) -> XenStoreError {
            XenStoreError(.invalidArgument, .parse, path: string, detail: why)
        }
        guard let first = bytes.first else { throw bad("a path cannot be empty") }
        if first == UInt8(ascii: "@") {
            if bytes.count > XenStoreLimits.relativePathMax {
                throw bad("special paths are at most \(XenStoreLimits.relativePathMax) bytes")
            }
        } else {
            guard first == UInt8(ascii: "/") else {
                throw bad("a path must be absolute (start with '/') or special (start with '@')")
            }
            if bytes.count > XenStoreLimits.absolutePathMax {
                throw bad("\(bytes.count) bytes; paths are at most \(XenStoreLimits.absolutePathMax)")
            }
            if bytes.count > 1 && bytes.last == UInt8(ascii: "/") { throw bad("a path cannot end in '/'") }
        }
        var previous: UInt8 = 0
        for (offset, b) in bytes.enumerated() {
            if b == UInt8(ascii: "/") {
                if previous == b { throw bad("'//' at offset \(offset - 1): empty node name") }
            } else if !XenStoreLimits.isNameByte(b) {
                throw bad("\(XenStorePath.describe(byte: b)) at offset \(offset) is not allowed; "
                    + "node names use \(XenStoreLimits.nodeNameCharacters)")
            }
            previous = b
        }
        rawValue = string
    }

    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure("invalid path literal \(value): \(error)") }
    }

    init(unchecked: String) { rawValue = unchecked }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// `@releaseDomain` and friends: watchable, never readable or writable.
    public var isSpecial: Bool { rawValue.utf8.first == UInt8(ascii: "@") }
    public var isRoot: Bool { rawValue == "/" }

    /// The node names from the root down; empty for `/` and special paths.
    public var components: [XenStoreNodeName] {
        guard !isSpecial, !isRoot else { return [] }
        return rawValue.utf8.split(separator: UInt8(ascii: "/")).map {
            XenStoreNodeName(unchecked: String(decoding: $0, as: UTF8.self))
        }
    }

    /// The last component, nil for `/` and special paths.
    public var name: XenStoreNodeName? { components.last }

    /// The parent path; nil for `/` and special paths.
    public var parent: XenStorePath? {
        guard !isSpecial, !isRoot else { return nil }
        let s = rawValue
        let slash = s.lastIndex(of: "/")!
        return slash == s.startIndex ? .root : XenStorePath(unchecked: String(s[..<slash]))
    }

    /// This path with one more component.
    ///
    /// Throws only when the result would exceed the protocol's length limit.
    public func appending(_ name: XenStoreNodeName) throws(XenStoreError) -> XenStorePath {
        precondition(!isSpecial, "special paths have no children")
        let joined = isRoot ? "/" + name.rawValue : rawValue + "/" + name.rawValue
        if joined.utf8.count > XenStoreLimits.absolutePathMax {
            throw XenStoreError(.invalidArgument, .parse, path: joined,
                                detail: "paths are at most \(XenStoreLimits.absolutePathMax) bytes")
        }
        return XenStorePath(unchecked: joined)
    }

    /// This path with several components, e.g. `base.appending("devices", name)`.
    public func appending(_ names: XenStoreNodeName...) throws(XenStoreError) -> XenStorePath {
        var p = self
        for n in names { p = try p.appending(n) }
        return p
    }

    /// True when `other` is this path or lies below it (the watch-firing rule:
    /// `/` contains everything).
    public func contains(_ other: XenStorePath) -> Bool {
        if isRoot { return true }
        guard other.rawValue.hasPrefix(rawValue) else { return false }
        let rest = other.rawValue.utf8.dropFirst(rawValue.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    static func describe(byte b: UInt8) -> String {
        if b >= 0x20 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: false)
    }
}
