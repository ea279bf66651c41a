import XenStore

/// A PCI bus: segment and bus number. Its text form is the node style
/// `0000-03` (users may type `0000:03` or `03`).
public struct PCIBusAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let segment: UInt16
    public let bus: UInt8

    public init(segment: UInt16 = 0, bus: UInt8) {
        self.segment = segment
        self.bus = bus
    }

    public init(_ a: SBDF) { self.init(segment: a.segment, bus: a.bus) }

    /// Parses `0000-03`, `0000:03` or `03` (hex).
    public init(_ text: String) throws(SchemaViolation) {
        let parts = text.split(omittingEmptySubsequences: false) { $0 == "-" || $0 == ":" }.map { Substring($0.lowercased()) }
        let seg: UInt64?, bus: UInt64?
        switch parts.count {
        case 1: (seg, bus) = (0, Text.parseHex(parts[0], width: 2))
        case 2: (seg, bus) = (Text.parseHex(parts[0], width: 4), Text.parseHex(parts[1], width: 2))
        default: (seg, bus) = (nil, nil)
        }
        guard let seg, let bus else {
            throw SchemaViolation(path: Text.printable(text), "not a PCI bus; use 0000:03, 0000-03 or 03")
        }
        self.init(segment: UInt16(seg), bus: UInt8(bus))
    }

    public var description: String { "\(Text.hex(UInt64(segment), width: 4))-\(Text.hex(UInt64(bus), width: 2))" }

    public static func < (a: Self, b: Self) -> Bool { (a.segment, a.bus) < (b.segment, b.bus) }
}

/// What the toolstack registered for an agent: which buses are its, how
/// many request slots and discovery pages its area has.
///
/// Node `agents/D/config`: `buses=all slots=16 pages=94` or
/// `buses=0000-03,0000-04 slots=16 pages=94`.
public struct AgentConfig: Hashable, Sendable {
    public enum Claim: Hashable, Sendable {
        /// Every bus the agent's domain sees.
        case all
        /// These buses only (never empty).
        case buses(Set<PCIBusAddress>)

        public func covers(_ a: SBDF) -> Bool {
            switch self {
            case .all: true
            case .buses(let s): s.contains(PCIBusAddress(a))
            }
        }

        /// True when some device could be claimed by both.
        public func overlaps(_ other: Claim) -> Bool {
            switch (self, other) {
            case (.all, _), (_, .all): true
            case (.buses(let a), .buses(let b)): !a.isDisjoint(with: b)
            }
        }

        public var encoded: String {
            switch self {
            case .all: "all"
            case .buses(let s): s.sorted().map(\.description).joined(separator: ",")
            }
        }
    }

    public var claim: Claim
    public var slots: Int
    public var pages: Int

    public init(claim: Claim = .all, slots: Int = AgentLayout.defaultSlots, pages: Int = AgentLayout.defaultPages) {
        self.claim = claim
        self.slots = slots
        self.pages = pages
    }

    /// Why these numbers cannot be registered, or nil.
    public var problem: String? {
        if !(1...AgentLayout.maxSlots).contains(slots) { return "slots must be 1…\(AgentLayout.maxSlots)" }
        if !(1...AgentLayout.maxPages).contains(pages) { return "pages must be 1…\(AgentLayout.maxPages)" }
        if case .buses(let s) = claim, s.isEmpty { return "an agent claims at least one bus" }
        return nil
    }

    public var encoded: String { "buses=\(claim.encoded) slots=\(slots) pages=\(pages)" }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(["buses", "slots", "pages"], at: path)
        let b = try f.require("buses", at: path)
        let claim: Claim
        if b == "all" {
            claim = .all
        } else {
            var set = Set<PCIBusAddress>()
            for part in b.split(separator: ",", omittingEmptySubsequences: false) {
                guard part.contains("-"), let bus = try? PCIBusAddress(String(part)), bus.description == part else {
                    throw SchemaViolation(path: path, "buses=\(Text.printable(b)): all, or DDDD-BB buses, comma separated")
                }
                set.insert(bus)
            }
            claim = .buses(set)
        }
        guard let slots = Text.parseDecimal(Substring(try f.require("slots", at: path)), max: UInt64(AgentLayout.maxSlots)),
              let pages = Text.parseDecimal(Substring(try f.require("pages", at: path)), max: UInt64(AgentLayout.maxPages))
        else { throw SchemaViolation(path: path, "slots=1…\(AgentLayout.maxSlots) pages=1…\(AgentLayout.maxPages)") }
        self.init(claim: claim, slots: Int(slots), pages: Int(pages))
        if let p = problem { throw SchemaViolation(path: path, p) }
    }
}
