/// One PCI function as an agent publishes it in `agents/D/discovery/K`:
///
///     address=0000-03-00-0 driver=igb vendor=8086 device=10c9 subvendor=8086 subdevice=a03c class=020000
///     revision=01 iommu-group=7 physfn=none numa=0 irq=16 msi=1 msix=1 bar0=mem32:0x…+0x…
///
/// (one line; the keys of `identity`, then the group, physical function and
/// NUMA node, then the keys of `resources`). The lists of `topology` are
/// left out: the toolstack rebuilds a slot's functions, a group's members
/// and a physical function's virtual functions from the entries of the whole
/// bus. That bounds an entry (`maxEncodedLength`), where an SR-IOV device's
/// list of 256 virtual functions alone would not fit a node.
public struct DiscoveryEntry: Hashable, Sendable {
    public var address: SBDF
    /// The driver bound now.
    public var driver: DriverName?
    public var identity: PCIIdentity
    public var iommuGroup: UInt32?
    public var physfn: SBDF?
    public var numaNode: Int
    public var resources: PCIResources

    public init(address: SBDF, driver: DriverName?, identity: PCIIdentity, iommuGroup: UInt32? = nil, physfn: SBDF? = nil,
                numaNode: Int = -1, resources: PCIResources = PCIResources()) {
        self.address = address
        self.driver = driver
        self.identity = identity
        self.iommuGroup = iommuGroup
        self.physfn = physfn
        self.numaNode = numaNode
        self.resources = resources
    }

    public var encoded: String {
        var f = Fields()
        f.add("address", address.nodeName.rawValue)
        f.add("driver", driver?.rawValue ?? "none")
        var out = f.text + " " + identity.encoded
        var g = Fields()
        g.add("iommu-group", iommuGroup.map(String.init) ?? "none")
        g.add("physfn", physfn?.nodeName.rawValue ?? "none")
        g.add("numa", String(numaNode))
        out += " " + g.text + " " + resources.encoded
        return out
    }

    /// The longest an entry can be: every field at its widest, six BARs.
    public static let maxEncodedLength: Int = {
        let a = try! SBDF(segment: 0xffff, bus: 0xff, device: 0x1f, function: 7)
        let bars = (0..<6).map { PCIBar(index: UInt8($0), kind: .mem64p, start: .max, size: .max) }
        return DiscoveryEntry(address: a, driver: try! DriverName(String(repeating: "d", count: 64)),
                              identity: PCIIdentity(vendor: 0xffff, device: 0xffff), iommuGroup: .max, physfn: a,
                              numaNode: 65535, resources: PCIResources(bars: bars, irq: .max, msi: true, msix: true))
            .encoded.utf8.count
    }()

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let pairs = try Fields(parsing: text, at: path).pairs
        let head = ["address", "driver"] + PCIIdentity.keys + ["iommu-group", "physfn", "numa"]
        guard pairs.count >= head.count + 3, pairs.prefix(head.count).map(\.0) == head else {
            throw SchemaViolation(path: path, "an entry is address= driver= \(PCIIdentity.keys.map { $0 + "=" }.joined(separator: " ")) iommu-group= physfn= numa= irq= msi= msix= [barN=…]")
        }
        func joined(_ range: Range<Int>) -> String { pairs[range].map { "\($0.0)=\($0.1)" }.joined(separator: " ") }
        let addressText = pairs[0].1
        guard addressText.contains("-"), let address = try? SBDF(addressText), address.nodeName.rawValue == addressText else {
            throw SchemaViolation(path: path, "address=\(Text.printable(addressText)) is not DDDD-BB-SS-F")
        }
        var driver: DriverName? = nil
        if pairs[1].1 != "none" {
            do { driver = try DriverName(pairs[1].1) } catch { throw SchemaViolation(path: path, "\(address): driver: \(error.problem)") }
        }
        let identity = try PCIIdentity(decoding: joined(2..<8), at: path)
        // The group, physfn and numa grammar is the topology node's; borrow its parser.
        let topology = try PCITopology(decoding: "slot-functions=\(address.function) iommu-group=\(pairs[8].1) group-members=\(pairs[8].1 == "none" ? "none" : addressText) physfn=\(pairs[9].1) virtfns=none numa=\(pairs[10].1)", at: path)
        let resources = try PCIResources(decoding: joined(11..<pairs.count), at: path)
        self.init(address: address, driver: driver, identity: identity, iommuGroup: topology.iommuGroup,
                  physfn: topology.physfn, numaNode: topology.numaNode, resources: resources)
    }

    /// The whole topology of each entry's function, rebuilt from the entries
    /// of its bus: the slot's functions, the group's members, the virtual
    /// functions whose physical function it is.
    public static func topologies(_ entries: [DiscoveryEntry]) -> [SBDF: PCITopology] {
        var slots: [String: [UInt8]] = [:]
        var groups: [UInt32: [SBDF]] = [:]
        var virtfns: [SBDF: [SBDF]] = [:]
        for e in entries {
            slots[e.address.slotName, default: []].append(e.address.function)
            if let g = e.iommuGroup { groups[g, default: []].append(e.address) }
            if let p = e.physfn { virtfns[p, default: []].append(e.address) }
        }
        var out: [SBDF: PCITopology] = [:]
        for e in entries {
            out[e.address] = PCITopology(slotFunctions: Array(Set(slots[e.address.slotName]!)),
                                         iommuGroup: e.iommuGroup, groupMembers: e.iommuGroup.map { Array(Set(groups[$0]!)) } ?? [],
                                         physfn: e.physfn, virtfns: Array(Set(virtfns[e.address] ?? [])), numaNode: e.numaNode)
        }
        return out
    }

    /// Entries packed into page values of at most `pageBytes`, in address
    /// order, separated by `;`. An empty list is no page at all.
    public static func pages(_ entries: [DiscoveryEntry], pageBytes: Int) -> [String] {
        var pages: [String] = []
        var current = ""
        for e in entries.sorted(by: { $0.address < $1.address }) {
            let text = e.encoded
            if current.isEmpty {
                current = text
            } else if current.utf8.count + 1 + text.utf8.count <= pageBytes {
                current += ";" + text
            } else {
                pages.append(current)
                current = text
            }
        }
        if !current.isEmpty { pages.append(current) }
        return pages
    }

    /// A page's entries; an empty page has none.
    public static func entries(ofPage text: String, at path: String) throws(SchemaViolation) -> [DiscoveryEntry] {
        if text.isEmpty { return [] }
        var out: [DiscoveryEntry] = []
        for part in text.split(separator: ";", omittingEmptySubsequences: false) {
            out.append(try DiscoveryEntry(decoding: String(part), at: path))
        }
        return out
    }
}
