import XenStore

/// The whole database as values: what `dump` writes, `restore` reads and
/// `check` compares the store against. No I/O here: a list of (path, value)
/// pairs in, records and violations out, and back.
public struct DatabaseImage: Hashable, Sendable {
    public var devices: [SBDF: DeviceRecord]
    /// Binding work in flight (or left by a killed command).
    public var pending: [SBDF: PendingOperation]

    public init(devices: [SBDF: DeviceRecord] = [:], pending: [SBDF: PendingOperation] = [:]) {
        self.devices = devices
        self.pending = pending
    }

    /// Every node of the tree, parents first, devices in address order, in the
    /// one canonical order (so two dumps of the same state are equal bytes).
    public var entries: [(XenStorePath, String)] {
        var out: [(XenStorePath, String)] = [(PCIStoreLayout.root, ""), (PCIStoreLayout.schemaNode, PCIStoreLayout.schemaVersion),
                                             (PCIStoreLayout.devices, "")]
        var lastSegment: UInt16? = nil, lastBus: (UInt16, UInt8)? = nil
        for a in devices.keys.sorted() {
            let r = devices[a]!
            let segment = try! PCIStoreLayout.devices.appending(PCIStoreLayout.segmentName(a))
            if lastSegment != a.segment { out.append((segment, "")); lastSegment = a.segment; lastBus = nil }
            if lastBus.map({ $0 != (a.segment, a.bus) }) ?? true {
                out.append((try! segment.appending(PCIStoreLayout.busName(a)), ""))
                lastBus = (a.segment, a.bus)
            }
            let dir = PCIStoreLayout.device(a)
            out.append((dir, ""))
            for (leaf, value) in r.nodes { out.append((try! dir.appending(leaf), value)) }
        }
        out.append((PCIStoreLayout.names, ""))
        var buckets: [String: [String: [(DeviceName, SBDF)]]] = [:]
        for r in devices.values { if let n = r.name { let (x, y) = n.indexBuckets; buckets[x, default: [:]][y, default: []].append((n, r.address)) } }
        for x in buckets.keys.sorted() {
            let bx = try! PCIStoreLayout.names.appending(XenStoreNodeName(stringLiteral: x))
            out.append((bx, ""))
            for y in buckets[x]!.keys.sorted() {
                let by = try! bx.appending(XenStoreNodeName(stringLiteral: y))
                out.append((by, ""))
                for (n, a) in buckets[x]![y]!.sorted(by: { $0.0 < $1.0 }) {
                    out.append((try! by.appending(XenStoreNodeName(stringLiteral: n.rawValue)), a.nodeName.rawValue))
                }
            }
        }
        out.append((PCIStoreLayout.pending, ""))
        for a in pending.keys.sorted() { out.append((PCIStoreLayout.pending(a), pending[a]!.encoded)) }
        return out
    }

    /// What reading a tree found: the records that decode, and every problem
    /// with its path (bad values, strange nodes, broken index, broken rules).
    public struct Reading: Sendable {
        public var image: DatabaseImage
        public var violations: [SchemaViolation]
    }

    /// Reads the tree below `/local/pci` from (path, value) pairs. Never
    /// throws and never traps: whatever cannot be understood becomes a violation.
    public static func read(_ entries: [(XenStorePath, String)]) -> Reading {
        var violations: [SchemaViolation] = []
        var leaves: [SBDF: [String: String]] = [:]
        var deviceDirs: Set<SBDF> = []
        var index: [(DeviceName, String, XenStorePath)] = []
        var sawSchema = false
        var pending: [SBDF: PendingOperation] = [:]
        let root = PCIStoreLayout.root.components.count
        for (path, value) in entries {
            let c = path.components.map(\.rawValue)
            guard c.count >= root, PCIStoreLayout.root.contains(path) else { continue }
            let rel = Array(c.dropFirst(root))
            switch rel.first {
            case nil: continue
            case "schema":
                sawSchema = true
                if rel.count != 1 { violations.append(SchemaViolation(path: path.rawValue, "unexpected node")) }
                else if value != PCIStoreLayout.schemaVersion {
                    violations.append(SchemaViolation(path: path.rawValue, "schema version '\(Text.printable(value))', this tool reads \(PCIStoreLayout.schemaVersion)"))
                }
            case "devices":
                if rel.count == 1 { continue }
                guard Text.parseHex(Substring(rel[1]), width: 4) != nil else {
                    violations.append(SchemaViolation(path: path.rawValue, "not a 4-hex-digit segment directory")); continue
                }
                if rel.count == 2 { continue }
                guard Text.parseHex(Substring(rel[2]), width: 2) != nil else {
                    violations.append(SchemaViolation(path: path.rawValue, "not a 2-hex-digit bus directory")); continue
                }
                if rel.count == 3 { continue }
                guard let a = try? SBDF(rel[3]), rel[3] == a.nodeName.rawValue,
                      PCIStoreLayout.segmentName(a).rawValue == rel[1], PCIStoreLayout.busName(a).rawValue == rel[2]
                else {
                    violations.append(SchemaViolation(path: path.rawValue, "not a DDDD-BB-SS-F device directory of this segment and bus")); continue
                }
                if rel.count == 4 { deviceDirs.insert(a); continue }
                if rel.count == 5, DeviceRecord.nodeNames.contains(rel[4]) {
                    leaves[a, default: [:]][rel[4]] = value
                } else {
                    violations.append(SchemaViolation(path: path.rawValue, "unknown node"))
                }
            case "names":
                if rel.count <= 3 { continue }
                guard rel.count == 4, let n = try? DeviceName(rel[3]), n.indexBuckets == (rel[1], rel[2]) else {
                    violations.append(SchemaViolation(path: path.rawValue, "not a name index entry (names/HH/HH/NAME)")); continue
                }
                index.append((n, value, path))
            case "pending":
                if rel.count == 1 { continue }
                guard rel.count == 2, let a = try? SBDF(rel[1]), a.nodeName.rawValue == rel[1] else {
                    violations.append(SchemaViolation(path: path.rawValue, "not a pending/DDDD-BB-SS-F entry")); continue
                }
                do { pending[a] = try PendingOperation(decoding: value, at: path.rawValue) } catch { violations.append(error) }
            case "agents":
                // The agents' areas are a protocol, not records: `AgentArea` reads them.
                continue
            default:
                violations.append(SchemaViolation(path: path.rawValue, "unknown node"))
            }
        }
        if !sawSchema && !entries.isEmpty {
            violations.append(SchemaViolation(path: PCIStoreLayout.schemaNode.rawValue, "missing"))
        }
        var devices: [SBDF: DeviceRecord] = [:]
        for a in deviceDirs.union(leaves.keys).sorted() {
            let dir = PCIStoreLayout.device(a).rawValue
            do {
                let r = try DeviceRecord(address: a, nodes: leaves[a] ?? [:], at: dir)
                for p in r.problems { violations.append(SchemaViolation(path: dir, p)) }
                devices[a] = r
            } catch {
                violations.append(error)
            }
        }
        var named: [DeviceName: SBDF] = [:]
        for r in devices.values { if let n = r.name { named[n] = r.address } }
        var indexed: Set<DeviceName> = []
        for (n, target, path) in index {
            indexed.insert(n)
            if named[n]?.nodeName.rawValue != target {
                violations.append(SchemaViolation(path: path.rawValue, "index says \(Text.printable(target)), but \(named[n].map { "\($0) holds the name" } ?? "no device has this name")"))
            }
        }
        for (n, a) in named where !indexed.contains(n) {
            violations.append(SchemaViolation(path: PCIStoreLayout.name(n).rawValue, "missing index entry for \(a)"))
        }
        for (a, p) in pending where devices[a].map({ !$0.state.isTransitional }) ?? true {
            violations.append(SchemaViolation(path: PCIStoreLayout.pending(a).rawValue,
                                              "pending \(p.kind.rawValue) for a device that is \(devices[a]?.state.rawValue ?? "not recorded")"))
        }
        let image = DatabaseImage(devices: devices, pending: pending)
        violations.append(contentsOf: image.crossDeviceProblems)
        return Reading(image: image, violations: violations)
    }

    /// Rules between devices: a slot or IOMMU group is owned by one domain
    /// unless the split was recorded as an override.
    public var crossDeviceProblems: [SchemaViolation] {
        var out: [SchemaViolation] = []
        for (a, r) in devices.sorted(by: { $0.key < $1.key }) where r.state == .assigned && !r.splitOverride {
            for peer in peers(of: a) where peer != a {
                guard let p = devices[peer] else {
                    out.append(SchemaViolation(path: PCIStoreLayout.device(a).rawValue,
                                               "assigned, but \(peer) of its slot or IOMMU group is not in the database"))
                    continue
                }
                if p.domain != r.domain {
                    out.append(SchemaViolation(path: PCIStoreLayout.device(a).rawValue,
                                               "assigned to domain \(r.domain.map { "\($0)" } ?? "none") but \(peer) (same slot or IOMMU group) is \(p.domain.map { "with domain \($0)" } ?? p.state.rawValue)"))
                }
            }
        }
        return out
    }

    /// The devices that must go to a domain together with `a`.
    public func peers(of a: SBDF) -> [SBDF] {
        devices[a]?.peers ?? [a]
    }

    /// `xenstore-ls -f` form: `path = "value"`, one node a line.
    public var xenstoreText: String {
        entries.map { "\($0.0) = \"\(XenStoreText.escape(Array($0.1.utf8)))\"\n" }.joined()
    }

    /// Parses `xenstore-ls -f` lines back into (path, value) pairs.
    public static func parseXenstoreText(_ text: String) throws(SchemaViolation) -> [(XenStorePath, String)] {
        var out: [(XenStorePath, String)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            func bad() -> SchemaViolation {
                SchemaViolation(path: "line \(i + 1)", "not `PATH = \"VALUE\"`: \(Text.printable(String(line)))")
            }
            guard let space = line.firstIndex(of: " ") else { throw bad() }
            let rest = line[space...]
            guard rest.hasPrefix(" = \""), rest.count >= 5, rest.hasSuffix("\""),
                  let path = try? XenStorePath(String(line[..<space])),
                  let bytes = XenStoreText.unescape(rest.dropFirst(4).dropLast())
            else { throw bad() }
            out.append((path, String(decoding: bytes, as: UTF8.self)))
        }
        return out
    }
}
