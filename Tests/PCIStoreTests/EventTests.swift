import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

@Suite struct EventTests {
    func changed(_ e: PCIEvent) -> (SBDF, Set<PCIEvent.Aspect>)? {
        if case .changed(_, let n, let a) = e { return (n.address, a) }
        return nil
    }

    @Test(arguments: Backend.allCases)
    func snapshotThenOneEventPerDevicePerTransaction(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, sysfs: f.sysfs)
        let watcher = PCIDatabase(store: try f.connect())
        let rec = EventRecorder(try watcher.events())
        let first = await rec.wait(for: 1)
        guard case .snapshot(let rows) = first.first else { Issue.record("no snapshot: \(first)"); return }
        #expect(rows.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1")])
        _ = try f.db.assign([sbdf("03:00.0")], to: DomID(5), sysfs: f.sysfs)
        let got = await rec.wait(for: 3)
        let changes = got.dropFirst().compactMap(changed)
        #expect(Set(changes.map(\.0)) == [sbdf("03:00.0"), sbdf("03:00.1")])
        #expect(changes.allSatisfy { $0.1.isSuperset(of: [.state, .owner]) })
        // Each transaction touched four leaves per device; still one event each.
        #expect(await rec.settle().count == 3)
        if got.count > 1, case .changed(let old, let new, _) = got[1] {
            #expect(try old.state == .assignable && new.state == .assigned && new.domain == DomID(5))
        }
        #expect(rec.failure == nil)
    }

    @Test(arguments: Backend.allCases)
    func addedRemovedAndRenamed(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        _ = try f.db.initialize()
        let rec = EventRecorder(try PCIDatabase(store: try f.connect()).events())
        await rec.wait(for: 1)
        func last(_ state: DeviceState) -> ([PCIEvent]) -> Bool {
            { events in
                switch events.last {
                case .added(let r)?: r.state == state
                case .changed(_, let r, _)?: r.state == state
                default: false
                }
            }
        }
        // Each step waits for the stream to report its final state: a lagging
        // consumer would see the steps folded into fewer events.
        _ = try f.db.assignableAdd([sbdf("05:00.0")], name: DeviceName("nic5"), stub: .pciStub, sysfs: f.sysfs)
        await rec.wait(until: last(.assignable))
        _ = try f.db.assignableRemove(sbdf("05:00.0"), rebind: true, sysfs: f.sysfs)
        await rec.wait(until: last(.present))
        try f.store.remove(PCIStoreLayout.device(sbdf("05:00.0")))
        let got = await rec.wait(until: { if case .removed? = $0.last { true } else { false } })
        let added = got.compactMap { e -> DeviceRecord? in if case .added(let r) = e { r } else { nil } }
        #expect(added.count == 1 && added.first?.address == sbdf("05:00.0"))
        #expect(got.contains { if let c = changed($0) { c.1.contains(.renamed) } else { false } })
        guard case .removed(let gone) = got.last else { Issue.record("\(rec.failure ?? "no failure") \(got)"); return }
        #expect(gone.address == sbdf("05:00.0") && gone.state == .present)
        #expect(await rec.settle().count == got.count)
        // Never a half-written device: every record in every event decodes whole.
        for e in got {
            if case .changed(_, let n, _) = e { #expect(n.problems.isEmpty) }
        }
    }

    @Test(arguments: Backend.allCases)
    func filtersKeepTheirOwnDevicesOnly(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1"), sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let rec = EventRecorder(try PCIDatabase(store: try f.connect()).events(PCIEventFilter(domain: try DomID(7))))
        await rec.wait(for: 1)
        // The stream reports the committed state it reads when it gets to an
        // event; a consumer that lags sees intermediate states folded into
        // the latest. Here each step is let through before the next.
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(6), sysfs: f.sysfs)
        _ = await rec.settle()
        _ = try f.db.assign([sbdf("03:00.0")], to: DomID(7), sysfs: f.sysfs)
        await rec.wait(for: 3)
        _ = try f.db.release(domain: DomID(7), sysfs: f.sysfs)
        await rec.wait(for: 5)
        let got = await rec.settle()
        guard case .snapshot(let rows) = got.first else { Issue.record("\(got)"); return }
        #expect(rows.isEmpty)
        let addresses = got.dropFirst().compactMap(changed).map(\.0)
        // Within one transaction the daemon picks the order; per transaction, both functions.
        #expect(addresses.count == 4)
        #expect(Set(addresses.prefix(2)) == [sbdf("03:00.0"), sbdf("03:00.1")])
        #expect(Set(addresses.suffix(2)) == [sbdf("03:00.0"), sbdf("03:00.1")])
    }

    /// The watch ends when the store drops the connection; the stream
    /// reconnects, re-watches and says resync with the state it missed.
    @Test func resyncAfterTheConnectionDrops() async throws {
        let f = try PCIFixture(.engine)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let first = try f.connect()
        let engine = f.engine!
        let rec = EventRecorder(try PCIDatabase(store: first).events(reconnect: { PCIDatabase(store: engine.connect()) }))
        await rec.wait(for: 1)
        first.close()
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(8), sysfs: f.sysfs)
        let got = await rec.wait(for: 2)
        guard got.count >= 2, case .resync(let rows) = got[1] else { Issue.record("\(got)"); return }
        #expect(rows.first?.domain == (try DomID(8)))
        _ = try f.db.release([sbdf("05:00.0")], sysfs: f.sysfs)
        #expect(await rec.wait(for: 3).count == 3)
    }
}
