import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// The tool named in the `changed` stamp of the devices a reconciliation
    /// releases (`tool=reconcile op=release`), so an admin can tell them from
    /// releases someone asked for.
    public static let reconcileTool = "reconcile"

    /// Gives back the devices of every owner the store no longer knows: a
    /// domain that was released (`@releaseDomain`) or never introduced. Each
    /// of their devices is reset and made assignable, exactly as
    /// `release --domain` does; owners the store knows keep theirs.
    ///
    /// The store is asked about an owner three times, because introducing a
    /// domain changes no node, so no transaction can conflict with it:
    /// 1. to sort the owners into live and gone;
    /// 2. in the transaction that picks the devices to reset, after reading them;
    /// 3. in the transaction that releases them, after its writes are sent and
    ///    just before it commits.
    /// A domain introduced before the third look keeps its devices
    /// (`cameBack`). What is left is the round trip of the commit itself; a
    /// fourth look after it warns if the domain slipped in there.
    ///
    /// One owner's failure (a refusal, a corrupt record) is recorded in
    /// `failures` and the others go ahead; a store failure ends it all.
    public func reconcileDeadOwners(sysfs: Sysfs?, dryRun: Bool = false) throws -> Reconciliation {
        var out = Reconciliation()
        var reaper = self
        reaper.actor.tool = Self.reconcileTool
        for (domain, devices) in try owners().sorted(by: { $0.key < $1.key }) {
            if try isIntroduced(domain) {
                out.live.append(domain)
                continue
            }
            do {
                switch try reaper.releaseIfGone(domain, devices, sysfs: sysfs, dryRun: dryRun) {
                case .released(let r):
                    out.gone.append(domain)
                    out.report.append(r)
                case .cameBack(let note):
                    out.cameBack.append(domain)
                    out.report.notes.append(note)
                }
            } catch let e as PCIStoreError where e.kind != .store {
                out.failures.append(Reconciliation.Failure(domain: domain, error: e))
            }
        }
        return out
    }

    /// Every owner with the devices it holds, from the `domain` leaves alone
    /// (a tenth of the requests of a full read), one transaction per bus as
    /// `read()` does. A value that does not parse is `check`'s business; the
    /// release reads every record whole before acting on it.
    func owners() throws -> [DomID: [SBDF]] {
        let buses: [XenStorePath] = try transaction { t in
            var out: [XenStorePath] = []
            for seg in try t.tx.directoryIfPresent(PCIStoreLayout.devices) ?? [] {
                let sp = try PCIStoreLayout.devices.appending(seg)
                for bus in try t.tx.directoryIfPresent(sp) ?? [] { out.append(try sp.appending(bus)) }
            }
            return out
        }
        var owners: [DomID: [SBDF]] = [:]
        for bus in buses {
            let held: [(DomID, SBDF)] = try transaction { t in
                try (t.tx.directoryIfPresent(bus) ?? []).compactMap { n in
                    guard let a = try? SBDF(n.rawValue), a.nodeName == n,
                          let v = try t.tx.readIfPresent(PCIStoreLayout.node(a, "domain")),
                          let d = try? DomID(String(decoding: v, as: UTF8.self)), d != .dom0 else { return nil }
                    return (d, a)
                }
            }
            for (d, a) in held { owners[d, default: []].append(a) }
        }
        return owners
    }

    /// Whether the store knows the domain (`XS_IS_DOMAIN_INTRODUCED`).
    func isIntroduced(_ domain: DomID) throws -> Bool {
        do throws(XenStoreError) { return try store.isDomainIntroduced(domain) } catch { throw PCIStoreError(error) }
    }

    enum GoneOwnerOutcome {
        case released(Report)
        case cameBack(String)
    }

    /// Releases what `domain` holds of `owned` while the store does not know
    /// it, looking again at each step (see `reconcileDeadOwners`). A record
    /// that does not decode is left alone, with a warning, so it cannot keep
    /// the owner's other devices from going back.
    func releaseIfGone(_ domain: DomID, _ owned: [SBDF], sysfs: Sysfs?, dryRun: Bool) throws -> GoneOwnerOutcome {
        var cameBack = false
        var corrupt: [SBDF] = []
        let report: Report
        do {
            report = try release(sysfs: sysfs, dryRun: dryRun, select: { t in
                corrupt = []
                var mine: [SBDF] = []
                for a in owned {
                    do {
                        if try t.record(a)?.domain == domain { mine.append(a) }
                    } catch let e as PCIStoreError where e.kind == .corrupt {
                        corrupt.append(a)
                    }
                }
                // Asked after the reads, so the answer is as late as can be.
                cameBack = try isIntroduced(domain)
                return cameBack ? [] : mine
            }, confirm: {
                cameBack = try isIntroduced(domain)
                return !cameBack
            })
        } catch is ReleaseWithdrawn {
            return .cameBack("domain \(domain) was introduced again while its devices were being released; they stay assigned to it")
        }
        if cameBack {
            return .cameBack("domain \(domain) was introduced again before its devices were released; they stay assigned to it")
        }
        var out = report
        out.notes.removeAll { $0 == "nothing to release" }
        for a in corrupt {
            out.notes.append("warning: \(a) is recorded as assigned to domain \(domain), which is gone, but its record does not follow the schema; left alone (see `pcistore check`)")
        }
        if !dryRun, !out.devices.isEmpty, try isIntroduced(domain) {
            out.notes.append("warning: domain \(domain) was introduced at the moment its devices were released; they are assignable now (\(out.devices.map(\.address.description).joined(separator: ", "))), assign them to it again if it is the same guest")
        }
        return .released(out)
    }
}
