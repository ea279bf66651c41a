import PCIStoreSchema
import XenStore

/// One XenStore transaction seen as records: reads are decoded and cached,
/// updates are staged, and `commit()` checks every invariant on what was
/// touched before a single node is written, so a broken rule vetoes the whole
/// change.
///
/// Everything a decision depends on is read through here, inside the
/// transaction, which is what makes cxenstored notice a concurrent change.
final class DatabaseTransaction {
    let tx: XenStoreTransaction
    private(set) var loaded: [SBDF: DeviceRecord?] = [:]
    private(set) var staged: [SBDF: DeviceRecord?] = [:]
    private var order: [SBDF] = []
    var pendingChanges: [SBDF: PendingOperation?] = [:]

    init(_ tx: XenStoreTransaction) { self.tx = tx }

    /// The device as the transaction sees it (staged changes included);
    /// nil when not recorded. A record that does not decode is an error.
    func record(_ a: SBDF) throws -> DeviceRecord? {
        if let s = staged[a] { return s }
        if let l = loaded[a] { return l }
        let dir = PCIStoreLayout.device(a)
        guard let names = try tx.directoryIfPresent(dir) else {
            loaded[a] = .some(nil)
            return nil
        }
        var nodes: [String: String] = [:]
        for n in names {
            let leaf = try dir.appending(n)
            // Listed, then gone: another transaction committed in between, so
            // this one will conflict anyway. Say so now and run it again.
            guard let v = try tx.readIfPresent(leaf) else {
                throw XenStoreError(.tryAgain, .read, path: leaf.rawValue, detail: "changed while being read")
            }
            nodes[n.rawValue] = String(decoding: v, as: UTF8.self)
        }
        let r: DeviceRecord
        do {
            r = try DeviceRecord(address: a, nodes: nodes, at: dir.rawValue)
        } catch {
            throw PCIStoreError.corrupt(error)
        }
        // Values that parse but break the rules together (assigned with no
        // domain…) were not written by pcistore: act on no such record.
        if let p = r.problems.first { throw PCIStoreError.corrupt(SchemaViolation(path: dir.rawValue, p)) }
        loaded[a] = r
        return r
    }

    /// Like `record`, but a missing device is an error naming it.
    func existing(_ a: SBDF) throws -> DeviceRecord {
        guard let r = try record(a) else {
            throw PCIStoreError.badInput("\(a) is not in the database; run `pcistore discover` first")
        }
        return r
    }

    func stage(_ r: DeviceRecord) {
        if staged[r.address] == nil && loaded[r.address] == nil { loaded[r.address] = .some(nil) }
        if !order.contains(r.address) { order.append(r.address) }
        staged[r.address] = r
    }

    func stageRemoval(_ a: SBDF) {
        if !order.contains(a) { order.append(a) }
        staged[a] = .some(nil)
    }

    /// Every recorded device address (segment and bus directories walked).
    func allAddresses() throws -> [SBDF] {
        var out: [SBDF] = []
        for seg in try tx.directoryIfPresent(PCIStoreLayout.devices) ?? [] {
            let segPath = try PCIStoreLayout.devices.appending(seg)
            for bus in try tx.directoryIfPresent(segPath) ?? [] {
                for dev in try tx.directoryIfPresent(try segPath.appending(bus)) ?? [] {
                    if let a = try? SBDF(dev.rawValue), a.nodeName == dev { out.append(a) }
                }
            }
        }
        return out.sorted()
    }

    /// The name index's answer for `name`, if any.
    func holder(of name: DeviceName) throws -> SBDF? {
        guard let v = try tx.readIfPresent(PCIStoreLayout.name(name)) else { return nil }
        return try? SBDF(String(decoding: v, as: UTF8.self))
    }

    /// The invariants on every staged device, then the writes. Returns them.
    func commit(apply: Bool) throws -> [Change] {
        // One history entry per device per commit that moved its stamp,
        // whichever operation staged it and however often.
        for a in order {
            guard var r = staged[a]!, r.changed != (loaded[a] ?? nil)?.changed else { continue }
            r.history = r.history.appending(DeviceHistory.Entry(stamp: r.changed, state: r.state, domain: r.domain))
            staged[a] = r
        }
        for a in order {
            guard let r = staged[a]! else { continue }
            if let p = r.problems.first { throw PCIStoreError.refused("\(a): \(p)") }
            if let n = r.name, let holder = try holder(of: n), holder != a, (try record(holder))?.name == n {
                throw PCIStoreError.refused("the name \(n) is taken by \(holder)")
            }
            // A slot or group goes to one domain, unless the split was asked for.
            for peer in r.peers where peer != a {
                guard let p = try record(peer) else { continue }
                if r.state == .assigned && !r.splitOverride && p.domain != r.domain {
                    throw PCIStoreError.refused("\(peer) shares \(Self.why(r, p)) with \(a) and is \(p.domain.map { "assigned to domain \($0)" } ?? "not assigned with it"); assign them together or pass --allow-split")
                }
                if r.state != .assigned && p.state == .assigned && !p.splitOverride {
                    throw PCIStoreError.refused("\(peer) shares \(Self.why(r, p)) with \(a) and stays assigned to domain \(p.domain.map { "\($0)" } ?? "none"); release them together")
                }
            }
        }
        var changes: [Change] = []
        for a in order { changes += Change.diff(loaded[a] ?? nil, staged[a]!) }
        for (a, p) in pendingChanges.sorted(by: { $0.key < $1.key }) {
            changes.append(p.map { .write(PCIStoreLayout.pending(a), $0.encoded) } ?? .remove(PCIStoreLayout.pending(a)))
        }
        if apply {
            for c in changes {
                switch c {
                case .write(let p, let v): try tx.write(p, v)
                case .remove(let p): try tx.remove(p)
                }
            }
        }
        return changes
    }

    static func why(_ a: DeviceRecord, _ b: DeviceRecord) -> String {
        if let g = a.topology.iommuGroup, a.topology.groupMembers.contains(b.address) { return "IOMMU group \(g)" }
        return "slot \(a.address.slotName)"
    }
}

