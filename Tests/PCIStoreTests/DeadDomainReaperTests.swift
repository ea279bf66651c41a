import Foundation
import Synchronization
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// The long-running reaper: a reconciliation at start-up, one per
/// `@releaseDomain`, a new connection when the old one is lost, a clean end
/// on cancellation. On the embedded engine and on the real xenstored.
@Suite struct DeadDomainReaperTests {
    final class ReaperLog: Sendable {
        let events = Mutex<[DeadDomainReaper.Event]>([])
        func add(_ e: DeadDomainReaper.Event) { events.withLock { $0.append(e) } }
        var all: [DeadDomainReaper.Event] { events.withLock { $0 } }

        var reconciled: [(Reconciliation, DeadDomainReaper.Trigger)] {
            all.compactMap { if case .reconciled(let r, let t) = $0 { (r, t) } else { nil } }
        }
        var disconnections: Int {
            all.filter { if case .disconnected = $0 { true } else { false } }.count
        }

        /// Waits until `done` holds for what arrived, or `seconds` passed.
        @discardableResult
        func wait(seconds: Double = 20, until done: (ReaperLog) -> Bool) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !done(self) && Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
            return done(self)
        }
    }

    /// Polls `condition` until it holds or `seconds` passed.
    func eventually(seconds: Double = 20, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() && Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
        return try condition()
    }

    @Test(arguments: Backend.allCases)
    func theReaperReconcilesAtStartAndReleasesADomainWhenItGoes(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        try f.store.introduceDomain(DeadDomainTests.live)
        try f.store.introduceDomain(DeadDomainTests.released)
        try DeadDomainTests.assignThree(f)
        let log = ReaperLog()
        let reaper = DeadDomainReaper(database: PCIDatabase(store: try f.connect()), sysfs: f.sysfs, onEvent: log.add)
        let task = Task(executorPreference: WatcherExecutor.next()) { try await reaper.run() }
        // At start-up: domain 6 was never introduced.
        #expect(await log.wait { !$0.reconciled.isEmpty })
        let start = log.reconciled.first
        #expect(start?.1 == .startup)
        #expect(start?.0.gone == [DeadDomainTests.neverIntroduced])
        #expect(start?.0.live == [DeadDomainTests.live, DeadDomainTests.released])
        #expect(try f.record("04:00.0").state == .assignable)
        // Domain 7 goes.
        try f.store.releaseDomain(DeadDomainTests.released)
        #expect(try await eventually { try f.record("05:00.0").state == .assignable })
        let rec = try f.record("05:00.0")
        #expect(rec.domain == nil && rec.lastReset == "unsupported" && rec.changed.tool == "reconcile")
        #expect(await log.wait { $0.reconciled.contains { $0.1 == .releaseDomain && $0.0.gone == [DeadDomainTests.released] } })
        // Domain 5 goes: the slot is reset and back in the pool.
        let before = DeadDomainTests.resets(f, "03:00.0")
        try f.store.releaseDomain(DeadDomainTests.live)
        #expect(try await eventually { try f.record("03:00.1").state == .assignable })
        #expect(try f.record("03:00.0").lastReset == "flr")
        _ = f.host.log(waitingUntil: { $0.filter { $0 == "reset 0000:03:00.1 flr" }.count == 2 })
        #expect(DeadDomainTests.resets(f, "03:00.0") == before + 1)
        task.cancel()
        try await task.value
        #expect(log.disconnections == 0)
    }

    /// The watch ends when the store drops the connection; the reaper
    /// reconnects, reconciles again (a release may have been missed), and
    /// goes on watching the new connection.
    @Test(arguments: Backend.allCases)
    func theReaperReconnectsWhenItsConnectionDrops(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        try f.store.introduceDomain(DeadDomainTests.live)
        try f.store.introduceDomain(DeadDomainTests.released)
        try DeadDomainTests.assignThree(f)
        let first = try f.connect()
        let log = ReaperLog()
        let connect: @Sendable () throws -> PCIDatabase = { [f] in PCIDatabase(store: try f.connect()) }
        let reaper = DeadDomainReaper(database: PCIDatabase(store: first), sysfs: f.sysfs, reconnect: connect,
                                      onEvent: log.add)
        let task = Task(executorPreference: WatcherExecutor.next()) { try await reaper.run() }
        #expect(await log.wait { !$0.reconciled.isEmpty })
        first.close()
        try f.store.releaseDomain(DeadDomainTests.released)
        #expect(await log.wait { $0.reconciled.contains { $0.1 == .reconnect } })
        #expect(log.disconnections == 1)
        #expect(try await eventually { try f.record("05:00.0").state == .assignable })
        // The new connection's watch works.
        try f.store.releaseDomain(DeadDomainTests.live)
        #expect(try await eventually { try f.record("03:00.0").state == .assignable })
        #expect(log.reconciled.contains { $0.1 == .releaseDomain && $0.0.gone == [DeadDomainTests.live] })
        task.cancel()
        try await task.value
    }

    /// The daemon dies: the XenStore layer notices (libxenstore alone would
    /// leave the watch waiting forever), the watch ends, and the reaper finds
    /// the new daemon. A restarted xenstored knows no guests, so every owner
    /// is gone there.
    @Test func theReaperOutlivesTheDaemon() async throws {
        let f = try PCIFixture(.xenstored)
        try f.store.introduceDomain(DeadDomainTests.live)
        try DeadDomainTests.assignThree(f)
        let socket = Mutex(f.daemon!.socketPath)
        let log = ReaperLog()
        let reaper = DeadDomainReaper(database: PCIDatabase(store: try f.connect()), sysfs: f.sysfs,
                                      reconnect: { PCIDatabase(store: try LibXenStoreConnection(socketPath: socket.withLock { $0 })) },
                                      onEvent: log.add)
        let task = Task(executorPreference: WatcherExecutor.next()) { try await reaper.run() }
        #expect(await log.wait { !$0.reconciled.isEmpty })
        let entries = try f.db.read().image.entries
        f.daemon!.stop()
        #expect(await log.wait { $0.disconnections == 1 })
        let second = try RealXenStored.start()
        defer { second.stop() }
        let db2 = PCIDatabase(store: try second.connect())
        _ = try db2.restore(entries, replace: false)
        socket.withLock { $0 = second.socketPath }
        #expect(await log.wait { $0.reconciled.contains { $0.1 == .reconnect } })
        #expect(log.reconciled.last?.0.gone == [DeadDomainTests.live])
        #expect(try db2.record(sbdf("03:00.0"))?.state == .assignable)
        task.cancel()
        try await task.value
    }

    /// A reaper that cannot read the database says so at once, instead of
    /// running deaf.
    @Test func aStartupFailureIsThrown() async throws {
        let engine = XenStoreEngine()
        try PCIDatabase(store: engine.connect()).initialize()
        let reaper = DeadDomainReaper(database: PCIDatabase(store: engine.connect(as: try DomID(3))), sysfs: nil, onEvent: { _ in })
        do {
            try await reaper.run()
            Issue.record("ran without reading the database")
        } catch let e as PCIStoreError {
            #expect(e.store?.code == .accessDenied, "\(e)")
        }
    }
}
