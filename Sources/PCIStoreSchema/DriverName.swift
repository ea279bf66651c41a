/// A kernel driver's name as sysfs spells it (`e1000e`, `virtio-pci`, `pciback`).
public struct DriverName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(SchemaViolation) {
        let ok = !text.isEmpty && text.utf8.count <= 64 && text != "none"
            && text.utf8.allSatisfy { (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 || $0 == 46 }
        guard ok else {
            throw SchemaViolation(path: Text.printable(text), "a driver name is 1–64 of A-Z a-z 0-9 - _ . (and not 'none')")
        }
        rawValue = text
    }

    public var description: String { rawValue }

    /// Stub drivers pcistore knows how to hold a device with.
    public static let pciback = try! DriverName("pciback")
    public static let pciStub = try! DriverName("pci-stub")
    public static let vfioPCI = try! DriverName("vfio-pci")
}

/// Who changed a device last, when, with what and how.
///
/// Node `changed`: `at=2026-11-25T20:30:00Z by=0 tool=pcistore op=assign`.
public struct ChangeStamp: Hashable, Sendable {
    /// Seconds since the epoch, UTC.
    public var time: Int64
    public var domain: UInt16
    public var tool: String
    public var operation: String

    public init(time: Int64, domain: UInt16 = 0, tool: String = "pcistore", operation: String) {
        self.time = time
        self.domain = domain
        self.tool = tool
        self.operation = operation
    }

    static let keys = ["at", "by", "tool", "op"]

    public var encoded: String {
        var f = Fields()
        f.add("at", Self.rfc3339(time))
        f.add("by", String(domain))
        f.add("tool", tool)
        f.add("op", operation)
        return f.text
    }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(Self.keys, at: path)
        let at = try f.require("at", at: path)
        guard let t = Self.parseRFC3339(at) else { throw SchemaViolation(path: path, "at=\(Text.printable(at)) is not YYYY-MM-DDTHH:MM:SSZ") }
        let by = try f.require("by", at: path)
        guard let d = Text.parseDecimal(Substring(by), max: 0x7fef) else { throw SchemaViolation(path: path, "by=\(Text.printable(by)) is not a domain id") }
        func word(_ k: String) throws(SchemaViolation) -> String {
            let v = try f.require(k, at: path)
            guard !v.isEmpty, v.utf8.count <= 32, v.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }) else {
                throw SchemaViolation(path: path, "\(k)=\(Text.printable(v)) is not a lowercase word")
            }
            return v
        }
        self.init(time: t, domain: UInt16(d), tool: try word("tool"), operation: try word("op"))
    }

    /// `2026-11-25T20:30:00Z`, as every stamp and history entry writes it.
    public static func rfc3339Text(_ t: Int64) -> String { rfc3339(t) }

    // Civil-from-days and back (Howard Hinnant's algorithms): no Foundation in this layer.
    static func rfc3339(_ t: Int64) -> String {
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }

    static func parseRFC3339(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        guard b.count == 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b[19] == 90 else { return nil }
        func num(_ r: Range<Int>) -> Int64? {
            guard b[r].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int64(String(decoding: b[r], as: UTF8.self))
        }
        guard let y = num(0..<4), let m = num(5..<7), let d = num(8..<10), let hh = num(11..<13),
              let mm = num(14..<16), let ss = num(17..<19), (1...12).contains(m), (1...31).contains(d),
              hh < 24, mm < 60, ss < 60 else { return nil }
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let t = days * 86400 + hh * 3600 + mm * 60 + ss
        return rfc3339(t) == s ? t : nil
    }
}
