import XenStore

/// Where the toolstack and a hardware-domain agent meet (schema/agent.md):
///
///     /local/pci/agents                          n0
///     /local/pci/agents/D                        n0 rD   one area per agent, all created by dom0
///         config     = "buses=all slots=16 pages=94"          n0 rD   dom0 writes
///         heartbeat  = "none" | "seq=… pid=… interval=… at=… state=up|stopped"   n0 bD   the agent writes
///         requests/K = "none" | "id=… op=… devices=… driver=… pid=… start=… at=…" n0 rD   dom0 writes
///         results/K  = "none" | "id=… op=… state=… at=… outcome=…"                n0 bD   the agent writes
///         reasons/K  = "" | free text                                             n0 bD   the agent writes
///         discovery/index = "none" | "generation=… devices=… pages=… at=…"        n0 bD   the agent writes
///         discovery/K     = "" | device entries separated by ';'                  n0 bD   the agent writes
///
/// dom0 creates every node, so none counts against the agent's quota (1000
/// nodes) and none dies with it; the agent only ever writes values into
/// nodes that exist, each under cxenstored's 2048-byte node limit. The
/// directories it may read are not writable to it, so it cannot create a
/// node at all.
public enum AgentLayout {
    public static let agents: XenStorePath = "/local/pci/agents"

    public static let defaultSlots = 16
    public static let maxSlots = 64
    /// Devices one request may name: the longest result (every outcome a
    /// 64-character driver name) then still fits `pageBytes`.
    public static let maxDevicesPerRequest = 24
    /// Bytes a value the agent writes may hold. cxenstored refuses a node of
    /// 2048 bytes or more from an unprivileged domain, counting a 24-byte
    /// header and 8 bytes per permission entry (two here) besides the value.
    public static let pageBytes = 2000
    /// Longest reason text the agent writes.
    public static let maxReasonBytes = 1024
    /// Enough discovery pages for 256 devices even if every entry is as long
    /// as an entry can be; typical entries are half that, so more fit.
    public static var defaultPages: Int {
        let perPage = (pageBytes + 1) / (DiscoveryEntry.maxEncodedLength + 1)
        return (256 + perPage - 1) / perPage
    }
    public static let maxPages = 1024

    public static func area(_ d: DomID) -> XenStorePath { try! agents.appending(XenStoreNodeName(stringLiteral: d.description)) }
    public static func config(_ d: DomID) -> XenStorePath { try! area(d).appending("config") }
    public static func heartbeat(_ d: DomID) -> XenStorePath { try! area(d).appending("heartbeat") }
    public static func requests(_ d: DomID) -> XenStorePath { try! area(d).appending("requests") }
    public static func results(_ d: DomID) -> XenStorePath { try! area(d).appending("results") }
    public static func reasons(_ d: DomID) -> XenStorePath { try! area(d).appending("reasons") }
    public static func discovery(_ d: DomID) -> XenStorePath { try! area(d).appending("discovery") }
    public static func discoveryIndex(_ d: DomID) -> XenStorePath { try! discovery(d).appending("index") }

    public static func request(_ d: DomID, _ slot: Int) -> XenStorePath { try! requests(d).appending(number(slot)) }
    public static func result(_ d: DomID, _ slot: Int) -> XenStorePath { try! results(d).appending(number(slot)) }
    public static func reason(_ d: DomID, _ slot: Int) -> XenStorePath { try! reasons(d).appending(number(slot)) }
    public static func page(_ d: DomID, _ page: Int) -> XenStorePath { try! discovery(d).appending(number(page)) }

    static func number(_ n: Int) -> XenStoreNodeName { XenStoreNodeName(stringLiteral: String(n)) }

    /// Every node of an agent's area with the value it starts with, parents
    /// first: what `agent-register` creates.
    public static func nodes(_ d: DomID, _ config: AgentConfig) -> [(XenStorePath, String)] {
        var out: [(XenStorePath, String)] = [(area(d), ""), (self.config(d), config.encoded), (heartbeat(d), "none"),
                                             (requests(d), "")]
        for k in 0..<config.slots { out.append((request(d, k), "none")) }
        out.append((results(d), ""))
        for k in 0..<config.slots { out.append((result(d, k), "none")) }
        out.append((reasons(d), ""))
        for k in 0..<config.slots { out.append((reason(d, k), "")) }
        out.append((discovery(d), ""))
        out.append((discoveryIndex(d), "none"))
        for k in 0..<config.pages { out.append((page(d, k), "")) }
        return out
    }

    /// What an agent's node is, by its place in the area.
    public enum Role: Sendable, Hashable {
        /// dom0 writes; the agent may read.
        case readByAgent
        /// The agent writes (and reads).
        case writtenByAgent
        /// Not part of an agent's area: dom0 only.
        case dom0Only
    }

    /// The agent a path belongs to and its role there; nil outside any area.
    public static func role(of path: XenStorePath) -> (DomID, Role)? {
        let c = path.components.map(\.rawValue)
        let base = agents.components.count
        guard c.count > base, agents.contains(path), let d = try? DomID(c[base]), d.description == c[base] else { return nil }
        let rel = Array(c.dropFirst(base + 1))
        switch rel.count {
        case 0: return (d, .readByAgent)
        case 1:
            switch rel[0] {
            case "config", "requests", "results", "reasons", "discovery": return (d, .readByAgent)
            case "heartbeat": return (d, .writtenByAgent)
            default: return (d, .dom0Only)
            }
        case 2 where isNumber(rel[1]):
            switch rel[0] {
            case "requests": return (d, .readByAgent)
            case "results", "reasons", "discovery": return (d, .writtenByAgent)
            default: return (d, .dom0Only)
            }
        case 2 where rel == ["discovery", "index"]: return (d, .writtenByAgent)
        default: return (d, .dom0Only)
        }
    }

    /// The permissions every node under `/local/pci` must carry: dom0 owns
    /// everything and others get nothing, except that an agent may read what
    /// the toolstack writes for it and write what it answers. dom0 as the
    /// agent needs no entry.
    public static func expectedPermissions(_ path: XenStorePath) -> XenStorePermissions {
        guard let (d, role) = role(of: path), d != .dom0 else { return PCIStoreLayout.rootPermissions }
        switch role {
        case .dom0Only: return PCIStoreLayout.rootPermissions
        case .readByAgent: return XenStorePermissions(owner: .dom0, others: .none, entries: [.init(d, .read)])
        case .writtenByAgent: return XenStorePermissions(owner: .dom0, others: .none, entries: [.init(d, .both)])
        }
    }

    static func isNumber(_ s: String) -> Bool { Text.parseDecimal(Substring(s), max: UInt64(maxPages)) != nil }
}
