import Foundation
import Synchronization
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// Devices of dead domains go back to the pool: the one-shot reconciliation
/// and its races with a domain coming back, on the embedded engine and on the
/// real xenstored (whose stand-ins let dom0 introduce and release test domains).
@Suite struct DeadDomainTests {
    static let live = try! DomID(5)
    static let neverIntroduced = try! DomID(6)
    static let released = try! DomID(7)

    /// 03:00.0/.1 (one slot, flr) to domain 5, 04:00.0/.1 (one group, bus
    /// reset) to domain 6, 05:00.0 (no reset at all) to domain 7.
    static func assignThree(_ f: PCIFixture) throws {
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1"), sbdf("04:00.0"), sbdf("04:00.1"), sbdf("05:00.0")],
                                   stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("03:00.0")], to: Self.live, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("04:00.0")], to: Self.neverIntroduced, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("05:00.0")], to: Self.released, sysfs: f.sysfs)
    }

    static func resets(_ f: PCIFixture, _ a: String) -> Int {
        f.host.log.filter { $0.hasPrefix("reset 0000:\(a) ") }.count
    }

    @Test(arguments: Backend.allCases)
    func goneOwnersAreReleasedAndLiveOnesKeepTheirDevices(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        try f.store.introduceDomain(Self.live)
        try f.store.introduceDomain(Self.released)
        try Self.assignThree(f)
        try f.store.releaseDomain(Self.released)
        let kept = try f.record("03:00.0")
        let r = try f.db.reconcileDeadOwners(sysfs: f.sysfs)
        #expect(r.live == [Self.live])
        #expect(r.gone == [Self.neverIntroduced, Self.released])
        #expect(r.cameBack.isEmpty && r.failures.isEmpty)
        #expect(r.released.map(\.address) == [sbdf("04:00.0"), sbdf("04:00.1"), sbdf("05:00.0")])
        #expect(try f.record("03:00.0") == kept)
        #expect(try f.record("03:00.1").domain == Self.live)
        for a in ["04:00.0", "04:00.1", "05:00.0"] {
            let rec = try f.record(a)
            #expect(rec.state == .assignable && rec.domain == nil, "\(a)")
            #expect(rec.changed.tool == "reconcile" && rec.changed.operation == "release", "\(a): \(rec.changed.encoded)")
        }
        #expect(try f.record("04:00.0").lastReset == "bus")
        #expect(try f.record("05:00.0").lastReset == "unsupported")
        // The resets happened; the live domain's devices were reset only when assigned.
        let log = f.host.log(waitingUntil: { $0.contains("reset 0000:04:00.1 bus") })
        #expect(log.contains("reset 0000:04:00.0 bus"))
        #expect(Self.resets(f, "03:00.0") == 1)
        #expect(try f.db.check(sysfs: f.sysfs, repair: false).problems.isEmpty)
        // Nothing is left to do.
        let again = try f.db.reconcileDeadOwners(sysfs: f.sysfs)
        #expect(again.live == [Self.live] && again.gone.isEmpty && again.released.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func dryRunSaysWhatItWouldDoAndChangesNothing(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        try f.store.introduceDomain(Self.live)
        try Self.assignThree(f)
        let before = try f.tree()
        let logBefore = f.host.log(waitingUntil: { $0.filter { $0.hasPrefix("reset") }.count >= 4 })
        let r = try f.db.reconcileDeadOwners(sysfs: f.sysfs, dryRun: true)
        #expect(r.gone == [Self.neverIntroduced, Self.released])
        #expect(r.report.steps.contains("sysfs: write bus/pci/devices/0000:04:00.0/reset = 1"))
        #expect(r.report.steps.contains("xenstore: write /local/pci/devices/0000/04/0000-04-00-0/state = \"assignable\""))
        #expect(r.released.map(\.state) == [.assignable, .assignable, .assignable])
        // The methods a real run would record, not "failed" for resets not done.
        #expect(r.released.map(\.lastReset) == ["bus", "bus", "unsupported"])
        #expect(try f.tree() == before)
        #expect(f.host.log(waitingUntil: { $0.count > logBefore.count }, seconds: 0.3) == logBefore)
    }

    /// Domain 6 is introduced right after the first look said it was gone:
    /// the second look, in the transaction that picks what to reset, sees it.
    @Test(arguments: Backend.allCases)
    func anOwnerIntroducedBeforeTheResetsKeepsItsDevicesUntouched(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        try f.store.introduceDomain(Self.live)
        try Self.assignThree(f)
        let base = f.store
        let asked = Mutex(0)
        let store = InterposedConnection(base) { request in
            guard case .isDomainIntroduced(let d) = request, d == Self.neverIntroduced else { return }
            if asked.withLock({ $0 += 1; return $0 }) == 2 { try! base.introduceDomain(d) }
        }
        let before = try f.record("04:00.0")
        let logBefore = f.host.log(waitingUntil: { $0.filter { $0.hasPrefix("reset") }.count >= 4 })
        let r = try PCIDatabase(store: store).reconcileDeadOwners(sysfs: f.sysfs)
        #expect(r.cameBack == [Self.neverIntroduced])
        #expect(r.gone == [Self.released])
        #expect(try f.record("04:00.0") == before)
        #expect(try f.record("04:00.1").domain == Self.neverIntroduced)
        #expect(r.report.notes.contains { $0.contains("domain 6 was introduced again before") })
        #expect(!r.report.steps.contains { $0.contains("04:00.") })
        let log = f.host.log(waitingUntil: { $0.count > logBefore.count }, seconds: 0.3)
        #expect(!log.dropFirst(logBefore.count).contains { $0.contains("04:00.") })
    }

    /// Domain 6 is introduced while the releasing transaction is being
    /// written: the look before its commit sees it, and the transaction is
    /// abandoned (the devices were reset, which a domain being built does not mind).
    @Test(arguments: Backend.allCases)
    func anOwnerIntroducedDuringTheReleaseTransactionKeepsItsDevices(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        try f.store.introduceDomain(Self.live)
        try Self.assignThree(f)
        let base = f.store
        let done = Mutex(false)
        let store = InterposedConnection(base) { request in
            guard case .write(let p, "assignable", true) = request, p.rawValue.contains("0000-04-00-0/state") else { return }
            let first = done.withLock { (d: inout Bool) -> Bool in
                defer { d = true }
                return !d
            }
            if first { try! base.introduceDomain(Self.neverIntroduced) }
        }
        let r = try PCIDatabase(store: store).reconcileDeadOwners(sysfs: f.sysfs)
        #expect(done.withLock { $0 })
        #expect(r.cameBack == [Self.neverIntroduced])
        #expect(r.gone == [Self.released])
        for a in ["04:00.0", "04:00.1"] {
            let rec = try f.record(a)
            #expect(rec.state == .assigned && rec.domain == Self.neverIntroduced, "\(a)")
            #expect(rec.changed.operation == "assign")
        }
        #expect(r.report.notes.contains { $0.contains("domain 6 was introduced again while") })
        #expect(try f.record("05:00.0").state == .assignable)
    }

    /// The one window no look can close: the commit's own round trip. The
    /// look after it warns.
    @Test(arguments: Backend.allCases)
    func anOwnerIntroducedAtTheCommitIsReported(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        try Self.assignThree(f)
        let base = f.store
        let stage = Mutex(0)  // 1: the release of 04:00.0 is being written; 2: domain 6 introduced
        let store = InterposedConnection(base) { request in
            switch request {
            case .write(let p, "assignable", true) where p.rawValue.contains("0000-04-00-0/state"):
                stage.withLock { if $0 == 0 { $0 = 1 } }
            case .commit:
                let now = stage.withLock { (s: inout Int) -> Bool in
                    defer { if s == 1 { s = 2 } }
                    return s == 1
                }
                if now { try! base.introduceDomain(Self.neverIntroduced) }
            default:
                break
            }
        }
        let r = try PCIDatabase(store: store).reconcileDeadOwners(sysfs: f.sysfs)
        #expect(stage.withLock { $0 } == 2)
        #expect(r.gone.contains(Self.neverIntroduced))
        #expect(try f.record("04:00.0").state == .assignable)
        #expect(r.report.notes.contains { $0.hasPrefix("warning: domain 6 was introduced at the moment its devices were released") })
    }

    /// A record someone else broke cannot keep the owner's other devices.
    @Test(arguments: Backend.allCases)
    func aCorruptRecordIsLeftAloneAndTheRestReleased(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1"), sbdf("05:00.0")], stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("03:00.0"), sbdf("05:00.0")], to: Self.neverIntroduced, sysfs: f.sysfs)
        try f.store.write(PCIStoreLayout.node(sbdf("05:00.0"), "resources"), "irq=\u{1}")
        let r = try f.db.reconcileDeadOwners(sysfs: f.sysfs)
        #expect(r.failures.isEmpty)
        #expect(r.released.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1")])
        #expect(r.report.notes.contains { $0.contains("0000:05:00.0 is recorded as assigned to domain 6") })
        #expect(try f.store.readString(PCIStoreLayout.node(sbdf("05:00.0"), "state")) == "assigned")
    }

    /// 05:00.0 (named nic) is assigned to domain 6, which is gone, but
    /// someone gave its name to 03:00.0 as well: its release is refused,
    /// reported, and domain 7's devices still go back.
    @Test(arguments: Backend.allCases)
    func aRefusedReleaseIsReportedAndTheOthersGoAhead(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], name: DeviceName("nic"), stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1"), sbdf("04:00.0"), sbdf("04:00.1")], stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("05:00.0")], to: Self.neverIntroduced, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("04:00.0")], to: Self.released, sysfs: f.sysfs)
        try f.store.write(PCIStoreLayout.node(sbdf("03:00.0"), "name"), "nic")
        try f.store.write(PCIStoreLayout.name(DeviceName("nic")), "0000-03-00-0")
        let r = try f.db.reconcileDeadOwners(sysfs: f.sysfs)
        #expect(r.failures.map(\.domain) == [Self.neverIntroduced])
        #expect(r.failures.first?.description == "domain 6: the name nic is taken by 0000:03:00.0")
        #expect(r.gone == [Self.released])
        #expect(r.released.map(\.address) == [sbdf("04:00.0"), sbdf("04:00.1")])
        #expect(try f.record("05:00.0").state == .assigned)
    }
}
