import XenStore

/// A PCI function's address: segment (domain), bus, device (slot), function.
///
/// Users type `0000:03:00.0`, `03:00.0` (segment 0) or libxl's node form
/// `0000-03-00-0`; XenStore stores the node form, because `:` and `.` are
/// not allowed in node names.
public struct SBDF: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let segment: UInt16
    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    public init(segment: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) throws(SchemaViolation) {
        guard device < 32 else { throw SchemaViolation(path: "\(device)", "device (slot) is 00…1f") }
        guard function < 8 else { throw SchemaViolation(path: "\(function)", "function is 0…7") }
        self.segment = segment
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Parses `DDDD:BB:SS.F`, `BB:SS.F` or `DDDD-BB-SS-F` (hex, any case).
    public init(_ text: String) throws(SchemaViolation) {
        func bad() -> SchemaViolation {
            SchemaViolation(path: Text.printable(text),
                            "not a PCI address; use 0000:03:00.0, 03:00.0 or 0000-03-00-0 (slot 00…1f, function 0…7)")
        }
        let s = Substring(text)
        var parts: [Substring]
        if s.contains("-") {
            parts = s.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 4 else { throw bad() }
        } else {
            let colon = s.split(separator: ":", omittingEmptySubsequences: false)
            guard colon.count == 2 || colon.count == 3 else { throw bad() }
            let dotted = colon.last!.split(separator: ".", omittingEmptySubsequences: false)
            guard dotted.count == 2 else { throw bad() }
            parts = (colon.count == 3 ? [colon[0]] : ["0000"]) + [colon[colon.count - 2], dotted[0], dotted[1]]
        }
        let lowered = parts.map { Substring($0.lowercased()) }
        guard let seg = Text.parseHex(lowered[0], width: 4), let bus = Text.parseHex(lowered[1], width: 2),
              let dev = Text.parseHex(lowered[2], width: 2), let fn = Text.parseHex(lowered[3], width: 1),
              dev < 32, fn < 8
        else { throw bad() }
        segment = UInt16(seg)
        self.bus = UInt8(bus)
        device = UInt8(dev)
        function = UInt8(fn)
    }

    /// `0000:03:00.0`, as lspci and the kernel print it.
    public var description: String {
        "\(Text.hex(UInt64(segment), width: 4)):\(Text.hex(UInt64(bus), width: 2)):\(Text.hex(UInt64(device), width: 2)).\(function)"
    }

    /// libxl's node name, `%04x-%02x-%02x-%01x`.
    public var nodeName: XenStoreNodeName {
        XenStoreNodeName(stringLiteral: "\(Text.hex(UInt64(segment), width: 4))-\(Text.hex(UInt64(bus), width: 2))-\(Text.hex(UInt64(device), width: 2))-\(function)")
    }

    /// The slot this function belongs to, `0000-03-00`.
    public var slotName: String {
        "\(Text.hex(UInt64(segment), width: 4))-\(Text.hex(UInt64(bus), width: 2))-\(Text.hex(UInt64(device), width: 2))"
    }

    public func withFunction(_ f: UInt8) throws(SchemaViolation) -> SBDF {
        try SBDF(segment: segment, bus: bus, device: device, function: f)
    }

    public static func < (a: SBDF, b: SBDF) -> Bool {
        (a.segment, a.bus, a.device, a.function) < (b.segment, b.bus, b.device, b.function)
    }
}
