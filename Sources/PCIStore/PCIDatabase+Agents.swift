import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// Every registered agent's configuration.
    public func agents() throws -> [DomID: AgentConfig] {
        try transaction { t in try Self.agents(t.tx) }
    }

    static func agents(_ tx: XenStoreTransaction) throws -> [DomID: AgentConfig] {
        var out: [DomID: AgentConfig] = [:]
        for n in try tx.directoryIfPresent(AgentLayout.agents) ?? [] {
            guard let d = try? DomID(n.rawValue), d.description == n.rawValue,
                  let v = try tx.readIfPresent(AgentLayout.config(d)) else { continue }
            do { out[d] = try AgentConfig(decoding: String(decoding: v, as: UTF8.self), at: AgentLayout.config(d).rawValue) }
            catch { throw PCIStoreError.corrupt(error) }
        }
        return out
    }

    /// The agent that owns the bus of every device in `devices`; nil when no
    /// agent claims any of them (pcistore acts on the bus directly). Devices
    /// of different owners are refused: each owner is asked separately.
    public func agentOwning(_ devices: [SBDF]) throws -> DomID? {
        let agents = try agents()
        guard !agents.isEmpty else { return nil }
        let owners = Self.busOwners(devices, agents)
        guard owners.count <= 1 else {
            let parts = owners.sorted { ($0.key?.rawValue ?? 0, $0.key == nil ? 0 : 1) < ($1.key?.rawValue ?? 0, $1.key == nil ? 0 : 1) }
                .map { "\($0.value.map(\.description).joined(separator: " ")) (\($0.key.map { "agent \($0)" } ?? "this host's bus"))" }
            throw PCIStoreError.badInput("the devices belong to different buses' owners: \(parts.joined(separator: "; ")); act on each owner's devices separately")
        }
        return owners.keys.first ?? nil
    }

    /// `devices` grouped by who owns their bus: an agent's domain, or nil
    /// for this host's own bus.
    static func busOwners(_ devices: [SBDF], _ agents: [DomID: AgentConfig]) -> [DomID?: [SBDF]] {
        var owners: [DomID?: [SBDF]] = [:]
        for a in devices {
            owners[agents.first(where: { $0.value.claim.covers(a) })?.key, default: []].append(a)
        }
        return owners
    }

    /// `discover` wherever the buses are: this host's own bus (unless an
    /// agent claims every bus, or there is none here: Arm, dom0less), then
    /// what each agent publishes (`refresh`: after asking it to read again).
    public func discoverEverywhere(sysfs: Sysfs, agent: (DomID) -> AgentClient, refresh: Bool,
                                   requestID: RequestID?, dryRun: Bool) async throws -> Report {
        let agents = try agents()
        var report = Report()
        let local = agents.isEmpty || (!agents.values.contains { $0.claim == .all } && (try? sysfs.devices()) != nil)
        if local { report.append(try discover(sysfs: sysfs, dryRun: dryRun)) }
        for d in agents.keys.sorted() {
            report.append(try await importDiscovery(agent: agent(d), refresh: refresh, requestID: requestID, dryRun: dryRun))
        }
        return report
    }

    /// `release` wherever the buses are: each owner releases its own
    /// devices, this host's bus first, then each agent's. With `domain`,
    /// every device that domain owns.
    public func releaseEverywhere(_ targets: [SBDF], domain: DomID?, sysfs: Sysfs, agent: (DomID) -> AgentClient,
                                  requestID: RequestID?, dryRun: Bool) async throws -> Report {
        let agents = try agents()
        if let domain, agents.isEmpty { return try release(domain: domain, sysfs: sysfs, dryRun: dryRun) }
        let chosen = try domain.map { d in try read().image.devices.values.filter { $0.domain == d }.map(\.address) } ?? targets
        let owners = Self.busOwners(chosen, agents)
        // Named devices of two owners are refused (as every other command
        // does); a domain's devices may span owners.
        if domain == nil, owners.count > 1 { _ = try agentOwning(chosen) }
        var report = Report()
        if let local = owners[nil] { report.append(try release(local, sysfs: sysfs, dryRun: dryRun)) }
        for (d, list) in owners.sorted(by: { ($0.key?.rawValue ?? 0) < ($1.key?.rawValue ?? 0) }) {
            guard let d else { continue }
            report.append(try await release(list, agent: agent(d), requestID: requestID, dryRun: dryRun))
        }
        if chosen.isEmpty { report.notes.append("nothing to release") }
        return report
    }

    /// Every agent's area as values, with every problem found.
    public func agentAreas() throws -> AgentArea.Reading {
        let entries: [(XenStorePath, String)] = try transaction { t in
            var out: [(XenStorePath, String)] = []
            var stack = [AgentLayout.agents]
            while let p = stack.popLast() {
                guard let v = try t.tx.readIfPresent(p) else { continue }
                out.append((p, String(decoding: v, as: UTF8.self)))
                for c in (try t.tx.directoryIfPresent(p) ?? []).reversed() { stack.append(try p.appending(c)) }
            }
            return out
        }
        return AgentArea.read(entries)
    }

    /// `agent-register`: creates (or brings up to date) the area through which
    /// domain `d`'s agent serves the buses of `config.claim`: every node the
    /// agent reads or writes, owned by dom0 and granted to `d` exactly where
    /// schema/agent.md says. Nodes already there keep their values (a request
    /// in flight survives re-registering), but the slot and page counts only
    /// change while no request is in flight. Claims may not overlap.
    public func registerAgent(_ d: DomID, config: AgentConfig, dryRun: Bool = false) throws -> Report {
        if let p = config.problem { throw PCIStoreError.badInput(p) }
        if d != .dom0 {
            let known: Bool
            do { known = try store.isDomainIntroduced(d) } catch { throw PCIStoreError(error) }
            guard known else {
                throw PCIStoreError.refused("domain \(d) is not running (the store does not know it); an agent's permissions can only name a domain that exists")
            }
        }
        if !dryRun { try initialize() }
        return try transaction { t in
            var report = Report()
            for (other, c) in try Self.agents(t.tx) where other != d && c.claim.overlaps(config.claim) {
                throw PCIStoreError.refused("agent \(other) already claims buses \(c.claim.encoded), which overlap \(config.claim.encoded)")
            }
            let client = AgentClient(store: store, domain: d)
            if try t.tx.readIfPresent(AgentLayout.config(d)) != nil {
                let old = try client.config(t.tx)
                if old.slots != config.slots || old.pages != config.pages {
                    for k in 0..<old.slots where try client.request(t.tx, k) != nil {
                        throw PCIStoreError.refused("agent \(d) has requests in flight (slot \(k)); change its slots or pages once they are answered")
                    }
                }
            }
            var changes: [Change] = []
            var actions: [String] = []
            if try t.tx.readIfPresent(AgentLayout.agents) == nil { changes.append(.write(AgentLayout.agents, "")) }
            let wanted = AgentLayout.nodes(d, config)
            let wantedPaths = Set(wanted.map(\.0))
            var setPerms: [(XenStorePath, XenStorePermissions)] = []
            for (p, value) in wanted {
                let current = try t.tx.readIfPresent(p)
                if current == nil || p == AgentLayout.config(d) && String(decoding: current!, as: UTF8.self) != value {
                    changes.append(.write(p, value))
                }
                let expected = AgentLayout.expectedPermissions(p)
                if try current == nil || t.tx.permissions(p) != expected { setPerms.append((p, expected)) }
            }
            // Slots and pages beyond new, smaller counts.
            for dir in [AgentLayout.requests(d), AgentLayout.results(d), AgentLayout.reasons(d), AgentLayout.discovery(d)] {
                for c in try t.tx.directoryIfPresent(dir) ?? [] {
                    let p = try dir.appending(c)
                    if !wantedPaths.contains(p) { changes.append(.remove(p)) }
                }
            }
            for (p, perms) in setPerms { actions.append("xenstore: setperms \(p) = \(perms)") }
            if !dryRun {
                for c in changes {
                    switch c {
                    case .write(let p, let v): try t.tx.write(p, v)
                    case .remove(let p): try t.tx.remove(p)
                    }
                }
                if changes.contains(.write(AgentLayout.agents, "")) {
                    try t.tx.setPermissions(AgentLayout.agents, PCIStoreLayout.rootPermissions)
                }
                for (p, perms) in setPerms { try t.tx.setPermissions(p, perms) }
            }
            report.add(changes)
            report.add(actions: actions)
            if changes.isEmpty && actions.isEmpty { report.notes.append("agent \(d) is registered already: \(config.encoded)") }
            return report
        }
    }

    /// `agent-unregister`: removes the area. Refused while a request is in
    /// flight (its result would be lost) unless `force`. The devices on the
    /// agent's buses stay recorded; without a claim, pcistore acts on them
    /// directly again.
    public func unregisterAgent(_ d: DomID, force: Bool = false, dryRun: Bool = false) throws -> Report {
        try transaction { t in
            let client = AgentClient(store: store, domain: d)
            let config = try client.config(t.tx)
            if !force {
                for k in 0..<config.slots {
                    if let r = try client.request(t.tx, k) {
                        throw PCIStoreError.refused("agent \(d) has request \(r.id) (\(r.operation.rawValue)) in flight; wait for it, or pass --force")
                    }
                }
            }
            var report = Report()
            let change = Change.remove(AgentLayout.area(d))
            if !dryRun { try t.tx.remove(AgentLayout.area(d)) }
            report.add([change])
            return report
        }
    }
}
