import XenStore

/// One agent's area as values (`/local/pci/agents/D/…`): what `check` and
/// `agent-list` look at. No I/O: (path, value) pairs in, the area and every
/// problem with its path out; never traps on garbage.
public struct AgentArea: Hashable, Sendable {
    public struct Slot: Hashable, Sendable {
        public var request: AgentRequest?
        public var result: AgentResult?
        public var reason: String

        public init(request: AgentRequest? = nil, result: AgentResult? = nil, reason: String = "") {
            self.request = request
            self.result = result
            self.reason = reason
        }

        /// The result, when it answers this slot's request.
        public var answer: AgentResult? {
            guard let request, let result, result.id == request.id else { return nil }
            return result
        }
    }

    public var domain: DomID
    public var config: AgentConfig
    public var heartbeat: AgentHeartbeat?
    public var slots: [Slot]
    public var index: DiscoveryIndex?
    public var pages: [String]

    public init(domain: DomID, config: AgentConfig, heartbeat: AgentHeartbeat? = nil, slots: [Slot]? = nil,
                index: DiscoveryIndex? = nil, pages: [String]? = nil) {
        self.domain = domain
        self.config = config
        self.heartbeat = heartbeat
        self.slots = slots ?? Array(repeating: Slot(), count: config.slots)
        self.index = index
        self.pages = pages ?? Array(repeating: "", count: config.pages)
    }

    /// The published devices, with every page problem found.
    public func discovered() -> (entries: [DiscoveryEntry], violations: [SchemaViolation]) {
        var out: [DiscoveryEntry] = []
        var violations: [SchemaViolation] = []
        for (k, text) in pages.enumerated() {
            let path = AgentLayout.page(domain, k).rawValue
            do { out += try DiscoveryEntry.entries(ofPage: text, at: path) } catch { violations.append(error) }
        }
        if let index, index.devices != out.count, violations.isEmpty {
            violations.append(SchemaViolation(path: AgentLayout.discoveryIndex(domain).rawValue,
                                              "says \(index.devices) devices, the pages hold \(out.count)"))
        }
        return (out, violations)
    }

    public struct Reading: Sendable {
        public var areas: [DomID: AgentArea]
        public var violations: [SchemaViolation]
    }

    /// Reads every area from the nodes under `/local/pci/agents`.
    public static func read(_ entries: [(XenStorePath, String)]) -> Reading {
        var byDomain: [DomID: [String: String]] = [:]
        var violations: [SchemaViolation] = []
        let base = AgentLayout.agents.components.count
        for (path, value) in entries where AgentLayout.agents.contains(path) && path != AgentLayout.agents {
            let c = path.components.map(\.rawValue)
            guard let d = try? DomID(c[base]), d.description == c[base] else {
                violations.append(SchemaViolation(path: path.rawValue, "not an agent area (agents/DOMID)")); continue
            }
            let rel = c.dropFirst(base + 1).joined(separator: "/")
            byDomain[d, default: [:]][rel] = value
        }
        var areas: [DomID: AgentArea] = [:]
        for (d, nodes) in byDomain.sorted(by: { $0.key < $1.key }) {
            func at(_ rel: String) -> String { AgentLayout.area(d).rawValue + (rel.isEmpty ? "" : "/" + rel) }
            guard let c = nodes["config"] else { violations.append(SchemaViolation(path: at("config"), "missing")); continue }
            let config: AgentConfig
            do { config = try AgentConfig(decoding: c, at: at("config")) } catch { violations.append(error); continue }
            var area = AgentArea(domain: d, config: config)
            var known: Set<String> = ["", "config", "heartbeat", "requests", "results", "reasons", "discovery", "discovery/index"]
            func value(_ rel: String) -> String? {
                guard let v = nodes[rel] else { violations.append(SchemaViolation(path: at(rel), "missing")); return nil }
                return v
            }
            if let h = value("heartbeat") {
                do { area.heartbeat = try AgentHeartbeat.decode(h, at: at("heartbeat")) } catch { violations.append(error) }
            }
            for k in 0..<config.slots {
                for dir in ["requests", "results", "reasons"] { known.insert("\(dir)/\(k)") }
                if let r = value("requests/\(k)") {
                    do { area.slots[k].request = try AgentRequest.decode(r, at: at("requests/\(k)")) } catch { violations.append(error) }
                }
                if let r = value("results/\(k)") {
                    do { area.slots[k].result = try AgentResult.decode(r, at: at("results/\(k)")) } catch { violations.append(error) }
                }
                if let r = value("reasons/\(k)") {
                    if r.utf8.count > AgentLayout.maxReasonBytes || !r.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
                        violations.append(SchemaViolation(path: at("reasons/\(k)"), "not printable ASCII of at most \(AgentLayout.maxReasonBytes) bytes"))
                    }
                    area.slots[k].reason = r
                }
                if let req = area.slots[k].request, let res = area.slots[k].result, res.id == req.id {
                    if res.operation != req.operation {
                        violations.append(SchemaViolation(path: at("results/\(k)"), "answers \(req.id) as \(res.operation.rawValue), but it asks \(req.operation.rawValue)"))
                    } else if !res.outcome.isEmpty && res.outcome.count != req.devices.count {
                        violations.append(SchemaViolation(path: at("results/\(k)"), "\(res.outcome.count) outcomes for \(req.devices.count) devices"))
                    }
                }
            }
            if let i = value("discovery/index") {
                do { area.index = try DiscoveryIndex.decode(i, at: at("discovery/index")) } catch { violations.append(error) }
            }
            for k in 0..<config.pages {
                known.insert("discovery/\(k)")
                if let p = value("discovery/\(k)") { area.pages[k] = p }
            }
            violations += area.discovered().violations
            for rel in nodes.keys.sorted() where !known.contains(rel) {
                violations.append(SchemaViolation(path: at(rel), "unknown node"))
            }
            areas[d] = area
        }
        var claims: [(DomID, AgentConfig.Claim)] = []
        for (d, a) in areas.sorted(by: { $0.key < $1.key }) {
            if let other = claims.first(where: { $0.1.overlaps(a.config.claim) }) {
                violations.append(SchemaViolation(path: AgentLayout.config(d).rawValue,
                                                  "claims buses \(a.config.claim.encoded), which overlap agent \(other.0)'s (\(other.1.encoded))"))
            }
            claims.append((d, a.config.claim))
        }
        return Reading(areas: areas, violations: violations)
    }
}
