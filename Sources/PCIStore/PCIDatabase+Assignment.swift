import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// `assign`: gives devices to a domain. Every function of their slots and
    /// every member of their IOMMU groups go along, in the same transaction,
    /// or nothing happens; `allowSplit` assigns only what was named and records
    /// `override = split` on it. Each device is reset first and the method is
    /// recorded; the resources recorded now are what release hands back.
    public func assign(_ targets: [SBDF], to domain: DomID, allowSplit: Bool = false, sysfs: Sysfs?,
                       dryRun: Bool = false) throws -> Report {
        guard domain != .dom0 else { throw PCIStoreError.badInput("devices are assigned to guests (domain 1…\(DomID.maxValue)), not dom0") }
        guard !targets.isEmpty else { throw PCIStoreError.badInput("no device given") }
        if !dryRun, let sysfs { _ = try recover(sysfs: sysfs) }
        // With a bus to reset, a first look decides what to reset; the
        // transaction below checks everything again before it commits.
        // Without one (a store-only host), that transaction is all there is.
        let group = sysfs == nil ? nil : try transaction { t in try assignmentSet(targets, allowSplit: allowSplit, t) }
        var methods: [SBDF: String] = [:]
        var report = Report()
        for a in group ?? [] {
            report.add(actions: [BusStep.reset(a).description])
            if dryRun { continue }
            methods[a] = try resetMethod(a, sysfs)
        }
        let stamp = actor.stamp("assign")
        let result: Report = try transaction { t in
            var out = Report()
            let now = try assignmentSet(targets, allowSplit: allowSplit, t)
            guard group.map({ Set($0) == Set(now) }) ?? true else {
                throw PCIStoreError.refused("the devices changed while resetting them; run the command again")
            }
            for a in now {
                var r = try t.existing(a)
                r.state = .assigned
                r.domain = domain
                r.lastReset = sysfs == nil ? nil : dryRun ? (sysfs!.resetMethods(a)?.first ?? "unsupported") : methods[a]
                r.splitOverride = allowSplit && r.peers.contains { !now.contains($0) }
                r.changed = stamp
                t.stage(r)
                out.devices.append(r)
            }
            out.add(try t.commit(apply: !dryRun))
            return out
        }
        report.add(result.changes)
        report.devices = result.devices
        return report
    }

    /// The devices an assignment of `targets` must take: the targets and
    /// (unless split) their peers, all of them assignable and unowned.
    func assignmentSet(_ targets: [SBDF], allowSplit: Bool, _ t: DatabaseTransaction) throws -> [SBDF] {
        var set = Set(targets)
        var broughtBy: [SBDF: DeviceRecord] = [:]
        for a in targets {
            let r = try t.existing(a)
            guard r.state == .assignable else {
                throw PCIStoreError.refused("\(a) is \(r.state == .assigned ? "assigned to domain \(r.domain.map { "\($0)" } ?? "none")" : "not assignable (\(r.state.rawValue))")")
            }
            if !allowSplit {
                for p in r.peers where !set.contains(p) {
                    set.insert(p)
                    broughtBy[p] = r
                }
            }
        }
        for (a, named) in broughtBy.sorted(by: { $0.key < $1.key }) {
            let p = try t.record(a)
            guard let p, p.state == .assignable else {
                let why = named.topology.groupMembers.contains(a) ? "IOMMU group \(named.topology.iommuGroup.map { "\($0)" } ?? "?")" : "slot \(a.slotName)"
                let detail = p == nil ? " (it is not in the database)" : p!.state == .assigned ? " (assigned to domain \(p!.domain.map { "\($0)" } ?? "none"))" : ""
                throw PCIStoreError.refused("\(a) shares \(why) with \(named.address) and is not assignable\(detail); make it assignable too, or pass --allow-split")
            }
        }
        return set.sorted()
    }

    /// What `resetMethod` would return, without resetting: what a dry run
    /// shows as the method a real run would record.
    func plannedResetMethod(_ a: SBDF, _ sysfs: Sysfs) -> String {
        guard sysfs.exists(a) else { return "failed" }
        return sysfs.resetMethods(a).map { $0.first ?? "default" } ?? "unsupported"
    }

    /// Resets through sysfs and returns the method; no sysfs: "none".
    func resetMethod(_ a: SBDF, _ sysfs: Sysfs?) throws -> String {
        guard let sysfs else { return "none" }
        guard sysfs.exists(a) else { throw PCIStoreError.refused("\(a) is not on the PCI bus (\(sysfs.devicesDirectory)); cannot reset it") }
        do { return try sysfs.reset(a) } catch { throw PCIStoreError.sysfs(error, "resetting \(a)") }
    }

    /// `release`: assigned devices back to the pool, with their slot and group
    /// peers of the same domain; each is reset. The report's devices carry the
    /// resources recorded at assignment (never re-read from sysfs).
    public func release(_ targets: [SBDF], sysfs: Sysfs?, dryRun: Bool = false) throws -> Report {
        guard !targets.isEmpty else { throw PCIStoreError.badInput("no device given") }
        return try release(sysfs: sysfs, dryRun: dryRun) { t in try releaseSet(targets, t) }
    }

    /// The devices a release of `targets` takes: each must be assigned, and
    /// its slot and group peers of the same domain go with it (unless a
    /// split was recorded), whether the bus is here or an agent's.
    func releaseSet(_ targets: [SBDF], _ t: DatabaseTransaction) throws -> [SBDF] {
        var set = Set<SBDF>()
        for a in targets {
            let r = try t.existing(a)
            guard r.state == .assigned else { throw PCIStoreError.refused("\(a) is not assigned (\(r.state.rawValue))") }
            set.insert(a)
            if !r.splitOverride {
                for p in r.peers where p != a {
                    if let pr = try t.record(p), pr.state == .assigned, pr.domain == r.domain, !pr.splitOverride { set.insert(p) }
                }
            }
        }
        return set.sorted()
    }

    /// `release --domain D`: every device the domain owns. The owners are
    /// found by reading the database bus by bus; the release itself then
    /// checks, in its transaction, that each is still the domain's.
    public func release(domain: DomID, sysfs: Sysfs?, dryRun: Bool = false) throws -> Report {
        let owned = try read().image.devices.values.filter { $0.domain == domain }.map(\.address).sorted()
        return try release(sysfs: sysfs, dryRun: dryRun) { t in
            try owned.filter { try t.record($0)?.domain == domain }
        }
    }

    /// The release itself: `select` picks the devices, once to reset them and
    /// again in the transaction that releases them. `confirm`, when given, is
    /// the last thing that transaction does before it commits (its writes are
    /// sent); answering false abandons the release with `ReleaseWithdrawn`.
    func release(sysfs: Sysfs?, dryRun: Bool, select: (DatabaseTransaction) throws -> [SBDF],
                 confirm: (() throws -> Bool)? = nil) throws -> Report {
        if !dryRun, let sysfs { _ = try recover(sysfs: sysfs) }
        let chosen = sysfs == nil ? [] : try transaction { t in try select(t) }
        var report = Report()
        var methods: [SBDF: String] = [:]
        for a in chosen {
            report.add(actions: [BusStep.reset(a).description])
            if dryRun { continue }
            methods[a] = (try? resetMethod(a, sysfs)) ?? "failed"
        }
        for (a, m) in methods.sorted(by: { $0.key < $1.key }) where m == "failed" {
            report.notes.append("warning: \(a) could not be reset; it is back in the pool unreset (recorded as reset=failed); assign resets it again first")
        }
        let stamp = actor.stamp("release")
        let result: Report = try transaction { t in
            var out = Report()
            let now = try select(t)
            for a in now {
                var r = try t.existing(a)
                guard r.state == .assigned else { continue }
                r.state = .assignable
                r.domain = nil
                r.splitOverride = false
                r.lastReset = sysfs.map { dryRun ? plannedResetMethod(a, $0) : methods[a] ?? "failed" }
                r.changed = stamp
                t.stage(r)
                out.devices.append(r)
            }
            out.add(try t.commit(apply: !dryRun))
            if let confirm, !out.devices.isEmpty, try !confirm() { throw ReleaseWithdrawn() }
            return out
        }
        report.add(result.changes)
        report.devices = result.devices
        if report.devices.isEmpty { report.notes.append("nothing to release") }
        return report
    }
}

/// A release given up at its last look (the owner came back); the
/// transaction was aborted and nothing changed in the store.
struct ReleaseWithdrawn: Error {}
