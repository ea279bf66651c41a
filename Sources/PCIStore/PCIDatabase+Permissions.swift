import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// Every node at and below `/local/pci` whose permissions are not what
    /// schema/agent.md says (dom0 owns everything, others get nothing, an
    /// agent reads and writes exactly its nodes). With `repair`, sets them
    /// (dry: says it would). A node owned by another domain is drift too: it
    /// would count against that domain's quota and die with it.
    ///
    /// Read without a transaction, one request per node: permissions need no
    /// consistent picture, and a node gone meanwhile is simply skipped.
    public func permissionDrift(repair: Bool, dryRun: Bool = false) throws -> (problems: [SchemaViolation], repaired: [String]) {
        var problems: [SchemaViolation] = []
        var repaired: [String] = []
        var stack = [PCIStoreLayout.root]
        while let p = stack.popLast() {
            guard let current = try present({ () throws(XenStoreError) in try store.permissions(p) }) else { continue }
            let expected = AgentLayout.expectedPermissions(p)
            if current != expected {
                if repair && !dryRun {
                    guard try present({ () throws(XenStoreError) in try store.setPermissions(p, expected) }) != nil else { continue }
                    repaired.append("set permissions of \(p) to \(expected) (were \(current))")
                } else {
                    if repair { repaired.append("would set permissions of \(p) to \(expected) (are \(current))") }
                    problems.append(SchemaViolation(path: p.rawValue, "permissions \(current), expected \(expected)\(Self.why(current, expected))"))
                }
            }
            let children = try present({ () throws(XenStoreError) in try store.directory(p) }) ?? []
            for c in children.reversed() { stack.append(try p.appending(c)) }
        }
        return (problems, repaired)
    }

    /// The answer, nil when the node is gone; other store errors as `PCIStoreError`.
    private func present<T>(_ body: () throws(XenStoreError) -> T) throws -> T? {
        do { return try body() } catch {
            if error.code == .notFound { return nil }
            throw PCIStoreError(error)
        }
    }

    /// What the difference means, for the one-line report.
    static func why(_ current: XenStorePermissions, _ expected: XenStorePermissions) -> String {
        if current.owner != expected.owner { return " (owned by domain \(current.owner): it counts against that domain's quota and goes when it does)" }
        if current.others != .none { return " (every domain may \(current.others.canWrite ? "write" : "read") it)" }
        let domains = Set(current.entries.map(\.domain) + expected.entries.map(\.domain)).sorted()
        for d in domains {
            let now = current.access(for: d), want = expected.access(for: d)
            if now.canWrite && !want.canWrite { return " (domain \(d) is granted write it should not have)" }
            if now.canRead && !want.canRead { return " (domain \(d) is granted read it should not have)" }
            if want.canWrite && !now.canWrite { return " (agent \(d) cannot write it, and must)" }
            if want.canRead && !now.canRead { return " (agent \(d) cannot read it, and must)" }
        }
        return ""
    }

    /// `check`'s look at the agents: their areas against the schema,
    /// answers nobody applied (their submitter is gone), and records left
    /// `seizing` or `returning` with neither a journal entry nor a request in
    /// flight.
    func checkAgents(devices: [SBDF: DeviceRecord], pending: Set<SBDF>) throws -> [SchemaViolation] {
        let reading = try agentAreas()
        var problems = reading.violations
        var inFlight = Set<SBDF>()
        for (d, area) in reading.areas.sorted(by: { $0.key < $1.key }) {
            for (k, slot) in area.slots.enumerated() {
                guard let req = slot.request else { continue }
                inFlight.formUnion(req.devices)
                if let res = slot.answer, res.state.isFinished, !ProcessIdentity.isAlive(pid: req.pid, start: req.start) {
                    problems.append(SchemaViolation(path: AgentLayout.result(d, k).rawValue,
                                                    "request \(req.id) (\(req.operation.rawValue)) was answered \(res.state.rawValue), but pid \(req.pid) that sent it is gone; any command for agent \(d) (or check --repair) applies the answer"))
                }
            }
        }
        for (a, r) in devices.sorted(by: { $0.key < $1.key }) where r.state.isTransitional && !pending.contains(a) && !inFlight.contains(a) {
            problems.append(SchemaViolation(path: PCIStoreLayout.node(a, "state").rawValue,
                                            "\(r.state.rawValue), but neither a journal entry nor an agent request is changing its binding"))
        }
        return problems
    }
}
