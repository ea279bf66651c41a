import XenStore

/// Everything the database knows about one PCI function: the nodes of
/// `/local/pci/devices/DDDD/BB/DDDD-BB-SS-F/`.
public struct DeviceRecord: Hashable, Sendable {
    public var address: SBDF
    public var identity: PCIIdentity
    public var topology: PCITopology
    /// While assigned, these are the resources recorded at assignment: what
    /// release hands back, never re-read from sysfs.
    public var resources: PCIResources
    public var state: DeviceState
    /// The owning domain; set exactly when `state == .assigned`.
    public var domain: DomID?
    /// The driver it was taken from, to give it back.
    public var originalDriver: DriverName?
    /// The stub driver holding it while seized.
    public var stub: DriverName?
    public var name: DeviceName?
    /// The reset method used last (kernel names: `flr`, `bus`, `pm`, …).
    public var lastReset: String?
    public var changed: ChangeStamp
    /// Assigned although its slot or IOMMU group was not given whole (recorded on purpose).
    public var splitOverride: Bool
    /// The last changes, newest last; the database appends one per commit
    /// that moves `changed`.
    public var history: DeviceHistory

    public init(address: SBDF, identity: PCIIdentity, topology: PCITopology = PCITopology(),
                resources: PCIResources = PCIResources(), state: DeviceState = .present, domain: DomID? = nil,
                originalDriver: DriverName? = nil, stub: DriverName? = nil, name: DeviceName? = nil,
                lastReset: String? = nil, changed: ChangeStamp, splitOverride: Bool = false,
                history: DeviceHistory = DeviceHistory()) {
        self.address = address
        self.identity = identity
        self.topology = topology
        self.resources = resources
        self.state = state
        self.domain = domain
        self.originalDriver = originalDriver
        self.stub = stub
        self.name = name
        self.lastReset = lastReset
        self.changed = changed
        self.splitOverride = splitOverride
        self.history = history
    }

    /// The node names of a device directory, in the order they are written.
    /// `name`, `override` and `history` exist only when set.
    public static let nodeNames: [String] = [
        "identity", "topology", "resources", "state", "domain", "driver", "stub", "reset", "changed", "name", "override",
        "history",
    ]
    public static let optionalNodeNames: Set<String> = ["name", "override", "history"]

    /// The leaves as (name, value), in `nodeNames` order.
    public var nodes: [(XenStoreNodeName, String)] {
        var out: [(XenStoreNodeName, String)] = [
            ("identity", identity.encoded),
            ("topology", topology.encoded),
            ("resources", resources.encoded),
            ("state", state.rawValue),
            ("domain", domain.map { String($0.rawValue) } ?? "none"),
            ("driver", originalDriver?.rawValue ?? "none"),
            ("stub", stub?.rawValue ?? "none"),
            ("reset", lastReset ?? "none"),
            ("changed", changed.encoded),
        ]
        if let name { out.append(("name", name.rawValue)) }
        if splitOverride { out.append(("override", "split")) }
        if !history.isEmpty { out.append(("history", history.encoded)) }
        return out
    }

    /// Decodes a device directory's leaves; the first problem found is thrown
    /// with the node's path. Unknown extra nodes are the caller's to report.
    public init(address: SBDF, nodes: [String: String], at directory: String) throws(SchemaViolation) {
        func value(_ n: String) throws(SchemaViolation) -> String {
            guard let v = nodes[n] else { throw SchemaViolation(path: directory + "/" + n, "missing") }
            return v
        }
        func path(_ n: String) -> String { directory + "/" + n }
        let identity = try PCIIdentity(decoding: try value("identity"), at: path("identity"))
        let topology = try PCITopology(decoding: try value("topology"), at: path("topology"))
        let resources = try PCIResources(decoding: try value("resources"), at: path("resources"))
        let stateText = try value("state")
        guard let state = DeviceState(rawValue: stateText) else {
            throw SchemaViolation(path: path("state"), "'\(Text.printable(stateText))' is not one of \(DeviceState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let domainText = try value("domain")
        var domain: DomID? = nil
        if domainText != "none" {
            guard let d = try? DomID(domainText) else { throw SchemaViolation(path: path("domain"), "'\(Text.printable(domainText))' is not a domain id or none") }
            domain = d
        }
        func driver(_ n: String) throws(SchemaViolation) -> DriverName? {
            let t = try value(n)
            if t == "none" { return nil }
            do { return try DriverName(t) } catch { throw SchemaViolation(path: path(n), error.problem) }
        }
        let reset = try value("reset")
        guard reset == "none" || (!reset.isEmpty && reset.utf8.count <= 32 && reset.utf8.allSatisfy({ (97...122).contains($0) || $0 == 95 })) else {
            throw SchemaViolation(path: path("reset"), "'\(Text.printable(reset))' is not a reset method name or none")
        }
        var name: DeviceName? = nil
        if let n = nodes["name"] {
            do { name = try DeviceName(n) } catch { throw SchemaViolation(path: path("name"), error.problem) }
        }
        if let o = nodes["override"], o != "split" { throw SchemaViolation(path: path("override"), "'\(Text.printable(o))' is not split") }
        self.init(address: address, identity: identity, topology: topology, resources: resources, state: state,
                  domain: domain, originalDriver: try driver("driver"), stub: try driver("stub"), name: name,
                  lastReset: reset == "none" ? nil : reset,
                  changed: try ChangeStamp(decoding: try value("changed"), at: path("changed")),
                  splitOverride: nodes["override"] != nil,
                  history: try nodes["history"].map { (h) throws(SchemaViolation) in try DeviceHistory(decoding: h, at: path("history")) } ?? DeviceHistory())
    }

    /// The functions that go to a domain together with this one: every
    /// function of its slot and every member of its IOMMU group, itself included.
    public var peers: [SBDF] {
        var set = Set(topology.groupMembers)
        for f in topology.slotFunctions { if let p = try? address.withFunction(f) { set.insert(p) } }
        set.insert(address)
        return set.sorted()
    }

    /// The rules a single record must keep; the database checks them before
    /// every commit and `check` reports them.
    public var problems: [String] {
        var p: [String] = []
        if (state == .assigned) != (domain != nil) { p.append("state \(state.rawValue) with domain \(domain.map(\.description) ?? "none")") }
        if let d = domain, d == .dom0 { p.append("assigned to dom0") }
        switch state {
        case .assignable, .assigned:
            if stub == nil { p.append("\(state.rawValue) but no stub driver holds it") }
        case .present, .seizing, .returning:
            break
        }
        if splitOverride && state != .assigned { p.append("override recorded on a device that is not assigned") }
        if !topology.slotFunctions.contains(address.function) { p.append("slot-functions lacks its own function \(address.function)") }
        if topology.iommuGroup != nil && !topology.groupMembers.contains(address) { p.append("group-members lacks the device itself") }
        return p
    }
}
