/// One base address register as the kernel assigned it.
public struct PCIBar: Hashable, Sendable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case io, mem32, mem32p = "mem32p", mem64, mem64p = "mem64p"
        public var isPrefetchable: Bool { self == .mem32p || self == .mem64p }
        public var is64Bit: Bool { self == .mem64 || self == .mem64p }
        public var isIO: Bool { self == .io }
    }

    /// 0…5.
    public var index: UInt8
    public var kind: Kind
    /// Full 64-bit values, never truncated: BARs above 4 GiB are common.
    public var start: UInt64
    public var size: UInt64

    public init(index: UInt8, kind: Kind, start: UInt64, size: UInt64) {
        self.index = index
        self.kind = kind
        self.start = start
        self.size = size
    }

    /// `mem64p:0x0000004000000000+0x0000000000200000`
    var encoded: String {
        "\(kind.rawValue):0x\(Text.hex(start, width: 16))+0x\(Text.hex(size, width: 16))"
    }
}

/// What a function occupies: its BARs, legacy IRQ and MSI/MSI-X capabilities.
///
/// Node `resources`: `irq=11 msi=1 msix=0 bar0=mem64p:0x…+0x… bar2=io:0x…+0x…`
/// (BARs of size zero are left out; `irq=0` means none).
public struct PCIResources: Hashable, Sendable {
    public var bars: [PCIBar]
    public var irq: UInt32
    public var msi: Bool
    public var msix: Bool

    public init(bars: [PCIBar] = [], irq: UInt32 = 0, msi: Bool = false, msix: Bool = false) {
        self.bars = bars.sorted { $0.index < $1.index }
        self.irq = irq
        self.msi = msi
        self.msix = msix
    }

    public var encoded: String {
        var f = Fields()
        f.add("irq", String(irq))
        f.add("msi", msi ? "1" : "0")
        f.add("msix", msix ? "1" : "0")
        for b in bars { f.add("bar\(b.index)", b.encoded) }
        return f.text
    }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let f = try Fields(parsing: text, at: path)
        let pairs = f.pairs
        guard pairs.count >= 3, pairs[0].0 == "irq", pairs[1].0 == "msi", pairs[2].0 == "msix" else {
            throw SchemaViolation(path: path, "expected irq=, msi=, msix= first")
        }
        guard let irq = Text.parseDecimal(Substring(pairs[0].1), max: UInt64(UInt32.max)) else {
            throw SchemaViolation(path: path, "irq=\(Text.printable(pairs[0].1)) is not a number")
        }
        func flag(_ i: Int) throws(SchemaViolation) -> Bool {
            switch pairs[i].1 {
            case "0": return false
            case "1": return true
            default: throw SchemaViolation(path: path, "\(pairs[i].0)=\(Text.printable(pairs[i].1)) is not 0 or 1")
            }
        }
        var bars: [PCIBar] = []
        for (k, v) in pairs.dropFirst(3) {
            guard k.hasPrefix("bar"), let idx = Text.parseDecimal(k.dropFirst(3), max: 5),
                  bars.last.map({ UInt64($0.index) < idx }) ?? true
            else { throw SchemaViolation(path: path, "\(Text.printable(k)) is not bar0…bar5 in ascending order") }
            let parts = v.split(separator: ":", maxSplits: 1)
            let range = parts.count == 2 ? parts[1].split(separator: "+") : []
            guard parts.count == 2, let kind = PCIBar.Kind(rawValue: String(parts[0])), range.count == 2,
                  range[0].hasPrefix("0x"), range[1].hasPrefix("0x"),
                  let start = Text.parseHex(range[0].dropFirst(2), width: 16),
                  let size = Text.parseHex(range[1].dropFirst(2), width: 16), size > 0
            else {
                throw SchemaViolation(path: path, "\(k)=\(Text.printable(v)) is not KIND:0x<16 hex>+0x<16 hex> with a size")
            }
            bars.append(PCIBar(index: UInt8(idx), kind: kind, start: start, size: size))
        }
        self.init(bars: bars, irq: UInt32(irq), msi: try flag(1), msix: try flag(2))
    }
}
