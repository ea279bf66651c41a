/// Where a function sits: its slot's other functions, its IOMMU group, SR-IOV
/// relations and NUMA node. Assignment keeps slots and groups whole.
///
/// Node `topology`:
/// `slot-functions=0,1 iommu-group=7 group-members=0000-03-00-0,0000-03-00-1 physfn=none virtfns=none numa=-1`.
/// The group's members are kept on each member, so an assignment finds the
/// devices it must take along from the record alone, without a scan.
public struct PCITopology: Hashable, Sendable {
    /// Functions present in the same slot, this one included, ascending.
    public var slotFunctions: [UInt8]
    public var iommuGroup: UInt32?
    /// Every function in the IOMMU group, this one included, ascending; empty without a group.
    public var groupMembers: [SBDF]
    /// The physical function of a virtual function.
    public var physfn: SBDF?
    /// The virtual functions of a physical function, ascending.
    public var virtfns: [SBDF]
    /// -1 when the platform does not say.
    public var numaNode: Int

    public init(slotFunctions: [UInt8] = [0], iommuGroup: UInt32? = nil, groupMembers: [SBDF] = [],
                physfn: SBDF? = nil, virtfns: [SBDF] = [], numaNode: Int = -1) {
        self.slotFunctions = slotFunctions.sorted()
        self.iommuGroup = iommuGroup
        self.groupMembers = groupMembers.sorted()
        self.physfn = physfn
        self.virtfns = virtfns.sorted()
        self.numaNode = numaNode
    }

    static let keys = ["slot-functions", "iommu-group", "group-members", "physfn", "virtfns", "numa"]

    public var encoded: String {
        var f = Fields()
        f.add("slot-functions", slotFunctions.map(String.init).joined(separator: ","))
        f.add("iommu-group", iommuGroup.map(String.init) ?? "none")
        f.add("group-members", groupMembers.isEmpty ? "none" : groupMembers.map(\.nodeName.rawValue).joined(separator: ","))
        f.add("physfn", physfn?.nodeName.rawValue ?? "none")
        f.add("virtfns", virtfns.isEmpty ? "none" : virtfns.map(\.nodeName.rawValue).joined(separator: ","))
        f.add("numa", String(numaNode))
        return f.text
    }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(Self.keys, at: path)
        func bad(_ k: String, _ v: String, _ why: String) -> SchemaViolation {
            SchemaViolation(path: path, "\(k)=\(Text.printable(v)): \(why)")
        }
        let sf = try f.require("slot-functions", at: path)
        var functions: [UInt8] = []
        for part in sf.split(separator: ",", omittingEmptySubsequences: false) {
            guard let n = Text.parseDecimal(part, max: 7) else { throw bad("slot-functions", sf, "functions 0…7, comma separated") }
            functions.append(UInt8(n))
        }
        guard functions == functions.sorted(), Set(functions).count == functions.count else {
            throw bad("slot-functions", sf, "ascending, no repeats")
        }
        let g = try f.require("iommu-group", at: path)
        var group: UInt32? = nil
        if g != "none" {
            guard let n = Text.parseDecimal(Substring(g), max: UInt64(UInt32.max)) else { throw bad("iommu-group", g, "a number or none") }
            group = UInt32(n)
        }
        let members = try Self.addresses(try f.require("group-members", at: path), key: "group-members", at: path)
        guard (group == nil) == members.isEmpty else {
            throw SchemaViolation(path: path, "group-members must be listed exactly when iommu-group is set")
        }
        let p = try f.require("physfn", at: path)
        var phys: SBDF? = nil
        if p != "none" {
            guard p.contains("-"), let s = try? SBDF(p) else { throw bad("physfn", p, "a DDDD-BB-SS-F address or none") }
            phys = s
        }
        let vfs = try Self.addresses(try f.require("virtfns", at: path), key: "virtfns", at: path)
        let numaText = try f.require("numa", at: path)
        guard let numa = numaText == "-1" ? -1 : Text.parseDecimal(Substring(numaText), max: 65535).map(Int.init) else {
            throw bad("numa", numaText, "-1 or a node number")
        }
        self.init(slotFunctions: functions, iommuGroup: group, groupMembers: members, physfn: phys, virtfns: vfs, numaNode: numa)
    }

    /// `none`, or DDDD-BB-SS-F addresses, comma separated, ascending, no repeats.
    static func addresses(_ v: String, key: String, at path: String) throws(SchemaViolation) -> [SBDF] {
        if v == "none" { return [] }
        var out: [SBDF] = []
        for part in v.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.contains("-"), let s = try? SBDF(String(part)), s.nodeName.rawValue == part else {
                throw SchemaViolation(path: path, "\(key)=\(Text.printable(v)): DDDD-BB-SS-F addresses or none")
            }
            out.append(s)
        }
        guard out == out.sorted(), Set(out).count == out.count else {
            throw SchemaViolation(path: path, "\(key)=\(Text.printable(v)): ascending, no repeats")
        }
        return out
    }
}
