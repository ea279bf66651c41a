/// What an agent last published, in `agents/D/discovery/index`:
/// `generation=3 devices=9 pages=2 stubs=pciback,pci-stub at=1764100801`.
///
/// Written in the same transaction as the pages, so a reader that reads the
/// index and the pages in one transaction sees one whole publication:
/// pages `0..<pages` hold `devices` entries, and the pages after them are
/// empty. `stubs` are the stub drivers loaded there (pciback, vfio-pci,
/// pci-stub), from which the toolstack picks one to seize with.
/// `generation` grows by one with every publication that changed
/// something. `none`: nothing published yet.
public struct DiscoveryIndex: Hashable, Sendable {
    public var generation: UInt64
    public var devices: Int
    public var pages: Int
    public var stubs: [DriverName]
    public var at: Int64

    public init(generation: UInt64, devices: Int, pages: Int, stubs: [DriverName] = [], at: Int64) {
        self.generation = generation
        self.devices = devices
        self.pages = pages
        self.stubs = stubs
        self.at = at
    }

    public var encoded: String {
        "generation=\(generation) devices=\(devices) pages=\(pages) stubs=\(stubs.isEmpty ? "none" : stubs.map(\.rawValue).joined(separator: ",")) at=\(at)"
    }

    public static func decode(_ text: String, at path: String) throws(SchemaViolation) -> DiscoveryIndex? {
        if text == "none" { return nil }
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(["generation", "devices", "pages", "stubs", "at"], at: path)
        guard let g = Text.parseDecimal(Substring(try f.require("generation", at: path)), max: UInt64.max),
              let d = Text.parseDecimal(Substring(try f.require("devices", at: path)), max: 1 << 24),
              let p = Text.parseDecimal(Substring(try f.require("pages", at: path)), max: UInt64(AgentLayout.maxPages)),
              let at = Text.parseDecimal(Substring(try f.require("at", at: path)), max: UInt64(Int64.max))
        else { throw SchemaViolation(path: path, "generation=N devices=N pages=N stubs=… at=N") }
        let s = try f.require("stubs", at: path)
        var stubs: [DriverName] = []
        if s != "none" {
            for part in s.split(separator: ",", omittingEmptySubsequences: false) {
                guard let d = try? DriverName(String(part)) else { throw SchemaViolation(path: path, "stubs=\(Text.printable(s)): driver names or none") }
                stubs.append(d)
            }
        }
        return DiscoveryIndex(generation: g, devices: Int(d), pages: Int(p), stubs: stubs, at: Int64(at))
    }
}
