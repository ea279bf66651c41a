import PCIStoreSchema
import XenStore

extension HardwareAgent {
    /// What the bus shows now, for the buses this agent serves.
    func discoveredEntries(_ config: AgentConfig) throws -> [DiscoveryEntry] {
        do {
            let all = try sysfs.devices()
            return try all.filter(config.claim.covers).map { a in
                let (identity, topology, resources) = try sysfs.describe(a, among: all)
                return DiscoveryEntry(address: a, driver: sysfs.driver(of: a), identity: identity, iommuGroup: topology.iommuGroup,
                                      physfn: topology.physfn, numaNode: topology.numaNode, resources: resources)
            }
        } catch let e as SysfsError {
            throw PCIStoreError.sysfs(e, "agent \(domain): reading the bus")
        }
    }

    /// Reads the bus and, when it differs from what is published, writes the
    /// changed pages and a new index in one transaction. Refuses (changing
    /// nothing) when the pages registered cannot hold the bus, or the store
    /// refuses a page (its node quota is smaller than `pageBytes`).
    func publish(_ store: any XenStoreConnection, _ config: AgentConfig) throws {
        let entries = try discoveredEntries(config)
        let pages = DiscoveryEntry.pages(entries, pageBytes: options.pageBytes)
        if pages.count > config.pages {
            throw PCIStoreError.refused("discovery of \(entries.count) devices needs \(pages.count) pages of up to \(options.pageBytes) bytes, and agent \(domain) is registered with \(config.pages) (pcistore agent-register --domain \(domain) --pages \(pages.count))")
        }
        let index: DiscoveryIndex?
        do {
            index = try publish(store, config, entries, pages)
        } catch let e as PCIStoreError where e.store?.code == .noSpace {
            throw PCIStoreError.quota(e.store!, pageBytes: options.pageBytes)
        }
        if let index { onEvent(.published(index)) }
    }

    private func publish(_ store: any XenStoreConnection, _ config: AgentConfig, _ entries: [DiscoveryEntry],
                         _ pages: [String]) throws -> DiscoveryIndex? {
        try transaction(store) { tx in
            let ip = AgentLayout.discoveryIndex(domain)
            let old = try? DiscoveryIndex.decode(try tx.readString(ip), at: ip.rawValue)
            let stubs = [DriverName.pciback, .vfioPCI, .pciStub].filter(sysfs.isLoaded)
            var changed = old?.devices != entries.count || old?.pages != pages.count || old?.stubs != stubs
            var writes: [(XenStorePath, String)] = []
            for k in 0..<config.pages {
                let p = AgentLayout.page(domain, k)
                let want = k < pages.count ? pages[k] : ""
                if try tx.readString(p) != want { writes.append((p, want)) }
            }
            changed = changed || !writes.isEmpty
            guard changed else { return nil }
            for (p, v) in writes { try tx.write(p, v) }
            let index = DiscoveryIndex(generation: (old?.generation ?? 0) + 1, devices: entries.count, pages: pages.count,
                                       stubs: stubs, at: now())
            try tx.write(ip, index.encoded)
            return index
        }
    }
}

extension PCIStoreError {
    /// A store refusal of the agent's write, said in terms of the quota.
    static func quota(_ e: XenStoreError, pageBytes: Int) -> PCIStoreError {
        PCIStoreError(.refused, "the store refused a value of up to \(pageBytes) bytes (\(e)): its node quota is smaller; start the agent with a smaller --page-bytes (and register more pages)")
    }
}
