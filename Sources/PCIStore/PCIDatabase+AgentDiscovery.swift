import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// `discover` for an agent's buses: asks the agent to read its bus again
    /// (a `rediscover` request; skipped with `refresh: false` and in a dry
    /// run), then records what it published, exactly as `discover` records
    /// sysfs: identity and topology always, resources unless assigned, the
    /// bound driver of a `present` device; a `present` device on the agent's
    /// buses that it no longer publishes is removed, any other is kept and
    /// reported. The records stay dom0's: the agent only publishes.
    public func importDiscovery(agent: AgentClient, refresh: Bool = true, requestID: RequestID? = nil,
                                dryRun: Bool = false) async throws -> Report {
        var report = Report()
        if refresh && !dryRun {
            _ = try collectAgentResults(agent)
            let (result, reason) = try await send(.rediscover, [], agent: agent, requestID: requestID)
            if result.state == .failed { throw Self.failure(agent, result, reason) }
        } else if refresh {
            report.add(actions: ["agent \(agent.domain): rediscover (read the bus and publish it)"])
        }
        if !dryRun { try initialize() }
        let imported: Report = try transaction { t in
            var out = Report()
            let config = try agent.config(t.tx)
            let ip = AgentLayout.discoveryIndex(agent.domain)
            let index: DiscoveryIndex?
            do { index = try DiscoveryIndex.decode(try t.tx.readString(ip), at: ip.rawValue) } catch let e as SchemaViolation {
                throw PCIStoreError.corrupt(e)
            }
            guard let index else {
                throw PCIStoreError(.agentDown, "agent \(agent.domain) has published no discovery yet (is it running?)")
            }
            var pages: [String] = []
            for k in 0..<config.pages { pages.append(try t.tx.readString(AgentLayout.page(agent.domain, k))) }
            let area = AgentArea(domain: agent.domain, config: config, index: index, pages: pages)
            let (entries, violations) = area.discovered()
            if let v = violations.first { throw PCIStoreError.corrupt(v) }
            let topologies = DiscoveryEntry.topologies(entries)
            let stamp = actor.stamp("discover")
            for e in entries {
                // An agent that publishes beyond its claim is not believed there.
                guard config.claim.covers(e.address) else {
                    out.notes.append("warning: agent \(agent.domain) published \(e.address), which is not on its buses (\(config.claim.encoded)); ignored")
                    continue
                }
                let topology = topologies[e.address]!
                if var r = try t.record(e.address) {
                    let before = r
                    r.identity = e.identity
                    r.topology = topology
                    if r.state != .assigned { r.resources = e.resources }
                    if r.state == .present && r.stub == nil { r.originalDriver = e.driver }
                    if r != before {
                        r.changed = stamp
                        t.stage(r)
                        out.notes.append("refreshed \(e.address)")
                    }
                } else {
                    t.stage(DeviceRecord(address: e.address, identity: e.identity, topology: topology, resources: e.resources,
                                         originalDriver: e.driver, changed: stamp))
                    out.notes.append("found \(e.address) \(e.driver.map { "(\($0))" } ?? "(no driver)") on agent \(agent.domain)")
                }
            }
            let published = Set(entries.map(\.address))
            for a in try t.allAddresses() where config.claim.covers(a) && !published.contains(a) {
                let r = try t.existing(a)
                if r.state == .present {
                    t.stageRemoval(a)
                    out.notes.append("removed \(a): agent \(agent.domain) no longer sees it")
                } else {
                    out.notes.append("\(a) is gone from agent \(agent.domain)'s bus but \(r.state.rawValue); kept")
                }
            }
            out.add(try t.commit(apply: !dryRun))
            out.devices = try entries.filter { config.claim.covers($0.address) }.compactMap { try t.record($0.address) }
            return out
        }
        report.append(imported)
        return report
    }
}
