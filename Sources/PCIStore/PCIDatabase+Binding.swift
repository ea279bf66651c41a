import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// `assignable-add`: remembers each device's driver, moves it to `stub`
    /// and marks it assignable; all the devices or none.
    ///
    /// 1. One transaction: every device `present` → `seizing`, driver and
    ///    stub recorded, a journal entry each.
    /// 2. The sysfs steps (unbind, `driver_override`, `drivers_probe`).
    /// 3. One transaction: `seizing` → `assignable`, journal entries gone.
    /// If a step fails, every device is given back to its driver and the
    /// records are put back as they were. If the command is killed, the next
    /// one finds the journal and finishes or rolls back.
    public func assignableAdd(_ targets: [SBDF], name: DeviceName? = nil, stub: DriverName, sysfs: Sysfs,
                              dryRun: Bool = false) throws -> Report {
        let targets = Array(Set(targets)).sorted()
        guard !targets.isEmpty else { throw PCIStoreError.badInput("no device given") }
        if name != nil && targets.count > 1 { throw PCIStoreError.badInput("--name names one device; \(targets.count) given") }
        guard sysfs.isLoaded(stub) else {
            throw PCIStoreError.refused("stub driver \(stub) is not loaded (try: modprobe \(stub == .pciback ? "xen-pciback" : stub.rawValue))")
        }
        for a in targets where !sysfs.exists(a) {
            throw PCIStoreError.badInput("\(a) is not on the PCI bus (\(sysfs.devicesDirectory))")
        }
        if !dryRun {
            try initialize()
            _ = try recover(sysfs: sysfs)
        }
        let me = ProcessIdentity.current
        var report = Report()
        // Phase 1.
        let (before, seizing): ([SBDF: DeviceRecord?], [DeviceRecord]) = try transaction { t in
            var before: [SBDF: DeviceRecord?] = [:]
            var seizing: [DeviceRecord] = []
            var notes: [String] = []
            let stamp = actor.stamp("assignable-add")
            for a in targets {
                let old = try t.record(a)
                var r = try old ?? discovered(a, sysfs, stamp)
                switch r.state {
                case .assignable:
                    notes.append("\(a) is already assignable (held by \(r.stub.map { "\($0)" } ?? "no stub"))")
                    continue
                case .assigned:
                    throw PCIStoreError.refused("\(a) is assigned to domain \(r.domain.map { "\($0)" } ?? "none"); release it first")
                case .seizing, .returning:
                    throw PCIStoreError.refused("\(a) is busy: another command is changing its binding (see /local/pci/pending)")
                case .present:
                    break
                }
                let current = sysfs.driver(of: a)
                if current != stub { r.originalDriver = current }
                r.stub = stub
                r.state = .seizing
                r.name = name
                r.changed = stamp
                before[a] = old
                t.stage(r)
                t.pendingChanges[a] = PendingOperation(kind: .seize, pid: me.pid, start: me.start)
                seizing.append(r)
            }
            report.notes = notes
            report.add(try t.commit(apply: !dryRun))
            return (before, seizing)
        }
        // Phase 2.
        var done: [DeviceRecord] = []
        for r in seizing {
            let steps = BusStep.seize(r.address, current: sysfs.driver(of: r.address), stub: stub, xen: sysfs.hypervisor != nil)
            report.add(actions: steps.map(\.description))
            if dryRun { continue }
            do {
                for s in steps { try s.perform(sysfs) }
                done.append(r)
            } catch {
                let undo = giveBackAll(done + [r], sysfs: sysfs)
                try restore(before, clearingPending: seizing.map(\.address))
                throw PCIStoreError.sysfs(error, "seizing \(r.address) for \(stub) failed; \(undo) and the database is unchanged")
            }
        }
        // Phase 3.
        let final = try finish(seizing.map(\.address), from: .seizing, dryRun: dryRun, simulated: seizing) { r in
            r.state = .assignable
        }
        report.add(final.changes)
        report.devices = final.devices
        return report
    }

    /// `assignable-remove`: takes a device out of the pool. With `rebind`, it
    /// goes back to the driver it was taken from (the same three phases as
    /// seizing, in reverse); without, the stub keeps holding it.
    public func assignableRemove(_ a: SBDF, rebind: Bool, sysfs: Sysfs, dryRun: Bool = false) throws -> Report {
        if !dryRun {
            try initialize()
            _ = try recover(sysfs: sysfs)
        }
        let me = ProcessIdentity.current
        var report = Report()
        let (old, moving): (DeviceRecord, DeviceRecord) = try transaction { t in
            var r = try t.existing(a)
            let old = r
            switch r.state {
            case .assigned: throw PCIStoreError.refused("\(a) is assigned to domain \(r.domain.map { "\($0)" } ?? "none"); release it first")
            case .seizing, .returning: throw PCIStoreError.refused("\(a) is busy: another command is changing its binding")
            case .present:
                guard rebind, r.stub != nil else { throw PCIStoreError.refused("\(a) is not assignable") }
            case .assignable: break
            }
            r.name = nil
            r.changed = actor.stamp("assignable-remove")
            if rebind {
                r.state = .returning
                t.pendingChanges[a] = PendingOperation(kind: .return, pid: me.pid, start: me.start)
            } else {
                r.state = .present
            }
            t.stage(r)
            report.add(try t.commit(apply: !dryRun))
            return (old, r)
        }
        guard rebind else {
            report.devices = [moving]
            return report
        }
        let steps = BusStep.giveBack(a, current: sysfs.driver(of: a), original: old.originalDriver, xen: sysfs.hypervisor != nil)
        report.add(actions: steps.map(\.description))
        if !dryRun {
            do {
                for s in steps { try s.perform(sysfs) }
            } catch {
                let back = old.stub.map { stub in
                    (try? BusStep.seize(a, current: sysfs.driver(of: a), stub: stub, xen: sysfs.hypervisor != nil).forEach { try $0.perform(sysfs) }) != nil
                } ?? false
                try restore([a: old], clearingPending: [a])
                throw PCIStoreError.sysfs(error, "giving \(a) back to \(old.originalDriver.map(\.rawValue) ?? "no driver") failed; \(back ? "it is held by \(old.stub.map { "\($0)" } ?? "no stub") again" : "it may be unbound now") and the database is unchanged")
            }
        }
        let final = try finish([a], from: .returning, dryRun: dryRun, simulated: [moving]) { r in
            r.state = .present
            r.stub = nil
        }
        report.add(final.changes)
        report.devices = final.devices
        return report
    }

    // MARK: - Recovery

    /// Finishes or rolls back binding work whose command died (journal entries
    /// of processes that no longer run). Called before every change; returns
    /// what it did.
    /// With `dryRun`, says what it would do and does nothing.
    @discardableResult
    public func recover(sysfs: Sysfs, dryRun: Bool = false) throws -> [String] {
        let entries: [(SBDF, PendingOperation)] = try transaction { t in
            try (t.tx.directoryIfPresent(PCIStoreLayout.pending) ?? []).compactMap { n in
                guard let a = try? SBDF(n.rawValue),
                      let v = try t.tx.readIfPresent(try PCIStoreLayout.pending.appending(n)),
                      let p = try? PendingOperation(decoding: String(decoding: v, as: UTF8.self), at: "") else { return nil }
                return (a, p)
            }
        }
        var log: [String] = []
        for (a, p) in entries where !ProcessIdentity.isAlive(p) {
            guard let r = try record(a), r.state.isTransitional else {
                if dryRun { log.append("\(a): would drop a stale journal entry"); continue }
                try transaction { t in
                    t.pendingChanges[a] = .some(nil)
                    _ = try t.commit(apply: true)
                }
                log.append("\(a): dropped a stale journal entry")
                continue
            }
            let current = sysfs.driver(of: a)
            let forward: Bool
            switch p.kind {
            case .seize: forward = current != nil && current == r.stub
            case .return: forward = current == r.originalDriver
            }
            if dryRun {
                log.append("\(a): would \(forward ? "finish" : "roll back") the \(p.kind == .seize ? "seize" : "return") left by pid \(p.pid)")
                continue
            }
            if !forward && sysfs.exists(a) {
                let steps = p.kind == .seize
                    ? BusStep.giveBack(a, current: current, original: r.originalDriver, xen: sysfs.hypervisor != nil)
                    : r.stub.map { BusStep.seize(a, current: current, stub: $0, xen: sysfs.hypervisor != nil) } ?? []
                for s in steps { try? s.perform(sysfs) }
            }
            try transaction { t in
                guard var now = try t.record(a), now.state == r.state,
                      let still = try t.tx.readIfPresent(PCIStoreLayout.pending(a)),
                      String(decoding: still, as: UTF8.self) == p.encoded
                else { return }
                let seizeDone = p.kind == .seize && forward
                let returnUndone = p.kind == .return && !forward
                if seizeDone || returnUndone {
                    now.state = .assignable
                } else {
                    now.state = .present
                    now.stub = p.kind == .return || !forward ? nil : now.stub
                    now.name = nil
                }
                now.changed = actor.stamp("recover")
                t.stage(now)
                t.pendingChanges[a] = .some(nil)
                _ = try t.commit(apply: true)
            }
            log.append("\(a): \(p.kind == .seize ? "seize" : "return") left by pid \(p.pid) \(forward ? "finished" : "rolled back")")
        }
        return log
    }

    // MARK: - Helpers

    /// A `present` record made from sysfs, for a device not yet discovered.
    /// The device as sysfs shows it now; `bus`, when the caller already
    /// listed it, saves listing it again for every device.
    func discovered(_ a: SBDF, _ sysfs: Sysfs, _ stamp: ChangeStamp, bus: [SBDF]? = nil) throws -> DeviceRecord {
        do throws(SysfsError) {
            let all: [SBDF]
            if let bus { all = bus } else { all = try sysfs.devices() }
            let (i, t, r) = try sysfs.describe(a, among: all)
            return DeviceRecord(address: a, identity: i, topology: t, resources: r, originalDriver: sysfs.driver(of: a), changed: stamp)
        } catch {
            throw PCIStoreError.sysfs(error, "reading \(a)")
        }
    }

    /// Best effort: every device back on its original driver. Says how it went.
    func giveBackAll(_ records: [DeviceRecord], sysfs: Sysfs) -> String {
        var failed: [SBDF] = []
        for r in records.reversed() {
            let steps = BusStep.giveBack(r.address, current: sysfs.driver(of: r.address), original: r.originalDriver, xen: sysfs.hypervisor != nil)
            do { for s in steps { try s.perform(sysfs) } } catch { failed.append(r.address) }
        }
        return failed.isEmpty ? "every device is back on its driver" : "could not give back \(failed.map(\.description).joined(separator: ", "))"
    }

    /// Puts records back exactly as they were (nil: not recorded before).
    func restore(_ before: [SBDF: DeviceRecord?], clearingPending: [SBDF]) throws {
        try transaction { t in
            for (a, r) in before {
                if let r { t.stage(r) } else { t.stageRemoval(a) }
            }
            for a in clearingPending { t.pendingChanges[a] = .some(nil) }
            _ = try t.commit(apply: true)
        }
    }

    /// The closing transaction of a binding change: every device must still
    /// be in `from` (nobody else touched it), then `change` applies and the
    /// journal entries go. In a dry run, shows what it would write.
    func finish(_ addresses: [SBDF], from: DeviceState, dryRun: Bool, simulated: [DeviceRecord],
                _ change: (inout DeviceRecord) -> Void) throws -> Report {
        var report = Report()
        if dryRun {
            for var r in simulated {
                let old = r
                change(&r)
                report.add(Change.diff(old, r) + [.remove(PCIStoreLayout.pending(r.address))])
                report.devices.append(r)
            }
            return report
        }
        return try transaction { t in
            var out = Report()
            for a in addresses {
                var r = try t.existing(a)
                guard r.state == from else {
                    throw PCIStoreError.refused("\(a) changed state to \(r.state.rawValue) while this command ran")
                }
                change(&r)
                t.stage(r)
                t.pendingChanges[a] = .some(nil)
                out.devices.append(r)
            }
            out.add(try t.commit(apply: true))
            return out
        }
    }
}
