import PCIStoreSchema
import XenStore

/// What `check` found: each problem with its path, and what `--repair` did.
public struct CheckReport: Sendable {
    public var problems: [SchemaViolation] = []
    public var repaired: [String] = []
    public var devices = 0
}

extension PCIDatabase {
    /// Validates every node against the schema and every invariant; with a
    /// sysfs root, also that the bus agrees with the records. With `repair`,
    /// fixes what is unambiguous: the name index (rebuilt from the devices),
    /// journal entries left by killed commands (finished or rolled back), a
    /// missing schema node. Everything else is reported, never guessed at.
    /// With `dryRun`, `repaired` says what repair would do and nothing changes.
    /// Permissions are checked too (`permissionDrift`), and the agents'
    /// areas (`checkAgents`); repair sets the permissions back and applies
    /// agent answers whose command died.
    public func check(sysfs: Sysfs?, repair: Bool, dryRun: Bool = false) throws -> CheckReport {
        var report = CheckReport()
        if repair {
            if let sysfs { report.repaired += try recover(sysfs: sysfs, dryRun: dryRun) }
            report.repaired += try repairIndex(dryRun: dryRun)
            for d in try agents().keys.sorted() {
                report.repaired += try collectAgentResults(AgentClient(store: store, domain: d), dryRun: dryRun)
            }
        }
        let drift = try permissionDrift(repair: repair, dryRun: dryRun)
        report.repaired += drift.repaired
        let reading = try read(thorough: true)
        report.devices = reading.image.devices.count
        report.problems = reading.violations + drift.problems
        report.problems += try checkAgents(devices: reading.image.devices, pending: Set(reading.image.pending.keys))
        for (a, r) in reading.image.devices.sorted(by: { $0.key < $1.key }) where r.lastReset == "failed" && r.state == .assignable {
            report.problems.append(SchemaViolation(path: PCIStoreLayout.node(a, "reset").rawValue,
                                                   "in the pool, but released without a successful reset: it may hold the last guest's state (assign resets it first)"))
        }
        for (a, p) in reading.image.pending.sorted(by: { $0.key < $1.key }) where !ProcessIdentity.isAlive(p) {
            report.problems.append(SchemaViolation(path: PCIStoreLayout.pending(a).rawValue,
                                                   "\(p.kind.rawValue) left unfinished by pid \(p.pid), which is gone; any change (or check --repair) finishes or rolls it back"))
        }
        if let sysfs {
            // Devices on an agent's buses are not on this bus: the agent's discovery speaks for them.
            let claims = try agents().values.map(\.claim)
            for (a, r) in reading.image.devices.sorted(by: { $0.key < $1.key })
            where !r.state.isTransitional && !claims.contains(where: { $0.covers(a) }) {
                guard sysfs.exists(a) else {
                    if r.state != .present { report.problems.append(SchemaViolation(path: PCIStoreLayout.device(a).rawValue, "\(r.state.rawValue) but not on the bus")) }
                    continue
                }
                let bound = sysfs.driver(of: a)
                let expected = r.state == .present ? (r.stub ?? r.originalDriver) : r.stub
                if bound != expected {
                    report.problems.append(SchemaViolation(path: PCIStoreLayout.node(a, "stub").rawValue,
                                                           "\(r.state.rawValue), so it should be on \(expected?.rawValue ?? "no driver"), but sysfs shows \(bound?.rawValue ?? "no driver")"))
                }
            }
        }
        return report
    }

    /// Rebuilds the name index from the names the devices hold.
    func repairIndex(dryRun: Bool = false) throws -> [String] {
        let reading = try read()
        var wanted: [XenStorePath: String] = [:]
        for r in reading.image.devices.values { if let n = r.name { wanted[PCIStoreLayout.name(n)] = r.address.nodeName.rawValue } }
        return try transaction { t in
            var done: [String] = []
            var present: [XenStorePath: String] = [:]
            for x in try t.tx.directoryIfPresent(PCIStoreLayout.names) ?? [] {
                let px = try PCIStoreLayout.names.appending(x)
                for y in try t.tx.directoryIfPresent(px) ?? [] {
                    let py = try px.appending(y)
                    for n in try t.tx.directoryIfPresent(py) ?? [] {
                        let p = try py.appending(n)
                        present[p] = String(decoding: try t.tx.read(p), as: UTF8.self)
                    }
                }
            }
            let would = dryRun ? "would have " : ""
            for (p, v) in present where wanted[p] != v {
                if !dryRun { try t.tx.remove(p) }
                done.append("\(would)removed stale index entry \(p)")
            }
            for (p, v) in wanted where present[p] != v {
                if !dryRun { try t.tx.write(p, v) }
                done.append("\(would)indexed \(p) = \(v)")
            }
            if try t.tx.readIfPresent(PCIStoreLayout.schemaNode) == nil, !present.isEmpty || !wanted.isEmpty {
                if !dryRun { try t.tx.write(PCIStoreLayout.schemaNode, PCIStoreLayout.schemaVersion) }
                done.append("\(would)wrote \(PCIStoreLayout.schemaNode)")
            }
            return done.sorted()
        }
    }

    /// Writes a dump back: into an empty database, or over the current one
    /// with `replace`. A dump with any violation is refused whole.
    public func restore(_ entries: [(XenStorePath, String)], replace: Bool, dryRun: Bool = false) throws -> Report {
        let reading = DatabaseImage.read(entries)
        if let v = reading.violations.first {
            throw PCIStoreError.badInput("the dump does not follow schema \(PCIStoreLayout.schemaVersion): \(v)\(reading.violations.count > 1 ? " (and \(reading.violations.count - 1) more)" : "")")
        }
        if !dryRun { try initialize() }
        // Bus by bus, for the reason `read()` gives: on cxenstored one huge
        // transaction costs minutes. The order makes a partial restore look
        // like a smaller database, never a broken one: devices first, a bus
        // at a time, then the name index, then nothing else.
        let existing = try transaction { t in try t.allAddresses().count }
        if existing > 0 && !replace {
            throw PCIStoreError.refused("the database holds \(existing) devices; restore into an empty one or pass --replace")
        }
        var groups: [[Change]] = []
        if replace {
            groups.append([PCIStoreLayout.devices, PCIStoreLayout.names, PCIStoreLayout.pending].map { .remove($0) }
                + [.write(PCIStoreLayout.devices, ""), .write(PCIStoreLayout.names, ""), .write(PCIStoreLayout.pending, "")])
        }
        var current: (UInt16, UInt8)? = nil
        for (p, v) in reading.image.entries where p != PCIStoreLayout.root {
            let c = p.components.map(\.rawValue)
            let bus: (UInt16, UInt8)? = c.count >= 5 && c[2] == "devices"
                ? (UInt16(c[3], radix: 16)!, UInt8(c[4], radix: 16)!) : nil
            let newGroup: Bool
            switch (bus, current) {
            case (nil, nil): newGroup = false
            case let (b?, c?): newGroup = b != c
            default: newGroup = true
            }
            if groups.isEmpty || newGroup {
                groups.append([])
                current = bus
            }
            groups[groups.count - 1].append(.write(p, v))
        }
        var report = Report()
        for g in groups {
            report.add(g)
            if dryRun { continue }
            try transaction { t in
                for c in g {
                    switch c {
                    case .write(let p, let v): try t.tx.write(p, v)
                    case .remove(let p): try t.tx.remove(p)
                    }
                }
            }
        }
        report.devices = reading.image.devices.keys.sorted().map { reading.image.devices[$0]! }
        return report
    }
}
