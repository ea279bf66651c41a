/// What a function is: its ids, class and revision, as in config space.
///
/// Node `identity`: `vendor=8086 device=10d3 subvendor=8086 subdevice=a01f class=020000 revision=00`.
public struct PCIIdentity: Hashable, Sendable {
    public var vendor: UInt16
    public var device: UInt16
    public var subsystemVendor: UInt16
    public var subsystemDevice: UInt16
    /// 24-bit class code: base class, subclass, programming interface.
    public var classCode: UInt32
    public var revision: UInt8

    public init(vendor: UInt16, device: UInt16, subsystemVendor: UInt16 = 0, subsystemDevice: UInt16 = 0,
                classCode: UInt32 = 0, revision: UInt8 = 0) {
        self.vendor = vendor
        self.device = device
        self.subsystemVendor = subsystemVendor
        self.subsystemDevice = subsystemDevice
        self.classCode = classCode & 0xff_ffff
        self.revision = revision
    }

    static let keys = ["vendor", "device", "subvendor", "subdevice", "class", "revision"]

    public var encoded: String {
        var f = Fields()
        f.add("vendor", Text.hex(UInt64(vendor), width: 4))
        f.add("device", Text.hex(UInt64(device), width: 4))
        f.add("subvendor", Text.hex(UInt64(subsystemVendor), width: 4))
        f.add("subdevice", Text.hex(UInt64(subsystemDevice), width: 4))
        f.add("class", Text.hex(UInt64(classCode), width: 6))
        f.add("revision", Text.hex(UInt64(revision), width: 2))
        return f.text
    }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(Self.keys, at: path)
        func hex(_ k: String, _ w: Int) throws(SchemaViolation) -> UInt64 {
            let v = try f.require(k, at: path)
            guard let n = Text.parseHex(Substring(v), width: w) else {
                throw SchemaViolation(path: path, "\(k)=\(Text.printable(v)) is not \(w) lowercase hex digits")
            }
            return n
        }
        self.init(vendor: UInt16(try hex("vendor", 4)), device: UInt16(try hex("device", 4)),
                  subsystemVendor: UInt16(try hex("subvendor", 4)), subsystemDevice: UInt16(try hex("subdevice", 4)),
                  classCode: UInt32(try hex("class", 6)), revision: UInt8(try hex("revision", 2)))
    }
}
