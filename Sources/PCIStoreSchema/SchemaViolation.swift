/// A node whose value does not follow schema v1: what was read where, and why
/// it is wrong. Reads report these instead of trapping on garbage someone
/// else wrote.
public struct SchemaViolation: Error, Hashable, Sendable, CustomStringConvertible {
    /// The node (or the device directory) at fault, as a path string.
    public let path: String
    public let problem: String

    public init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// Parses the `key=value key=value` values used by the packed nodes, in a
/// form a C or Python reader splits with two calls.
struct Fields {
    private(set) var pairs: [(String, String)] = []

    init() {}

    init(parsing text: String, at path: String) throws(SchemaViolation) {
        for token in text.split(separator: " ", omittingEmptySubsequences: false) {
            guard let eq = token.firstIndex(of: "="), eq != token.startIndex else {
                throw SchemaViolation(path: path, "expected key=value, found '\(Text.printable(String(token)))'")
            }
            pairs.append((String(token[..<eq]), String(token[token.index(after: eq)...])))
        }
    }

    mutating func add(_ key: String, _ value: String) { pairs.append((key, value)) }

    var text: String { pairs.map { "\($0.0)=\($0.1)" }.joined(separator: " ") }

    func require(_ key: String, at path: String) throws(SchemaViolation) -> String {
        guard let v = pairs.first(where: { $0.0 == key })?.1 else { throw SchemaViolation(path: path, "missing \(key)=") }
        return v
    }

    /// Keys must be exactly these, in this order: one spelling per value keeps
    /// dumps byte-for-byte reproducible.
    func expectKeys(_ keys: [String], at path: String) throws(SchemaViolation) {
        let got = pairs.map(\.0)
        if got != keys {
            throw SchemaViolation(path: path, "keys \(got.joined(separator: ",")) (expected \(keys.joined(separator: ",")))")
        }
    }
}

enum Text {
    /// A value shortened and made printable for an error message.
    static func printable(_ s: String) -> String {
        let cleaned = String(s.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7f ? Character($0) : "?" })
        return cleaned.count > 40 ? String(cleaned.prefix(40)) + "…" : cleaned
    }

    static func hex(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// Exactly `width` lowercase hex digits, nothing else.
    static func parseHex(_ s: Substring, width: Int) -> UInt64? {
        guard s.utf8.count == width, s.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return UInt64(s, radix: 16)
    }

    /// Decimal without sign, leading zeros or spaces (except "0" itself).
    static func parseDecimal(_ s: Substring, max: UInt64) -> UInt64? {
        guard !s.isEmpty, s.utf8.count <= 20, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              s == "0" || s.first != "0", let v = UInt64(s), v <= max else { return nil }
        return v
    }
}
