import Foundation
import Synchronization
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

    /// The stream reads the whole database once when it starts. Its own
    /// watch's registration event comes after that read began, so it brings
    /// nothing new; reading everything again for it would double the start.
    @Test(arguments: Backend.allCases)
    func theStartReadsTheDatabaseOnce(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let listings = Atomic<Int>(0)
        let store = InterposedConnection(try f.connect()) { r in
            if case .directory(let p) = r, p == PCIStoreLayout.devices { listings.add(1, ordering: .relaxed) }
        }
        _ = try PCIDatabase(store: store).read()
        let perRead = listings.exchange(0, ordering: .relaxed)
        #expect(perRead > 0)
        let rec = EventRecorder(try PCIDatabase(store: store).events())
        #expect(await rec.wait(for: 1).count == 1)
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(3), sysfs: nil)
        // The change arrives after the registration event was handled.
        #expect(await rec.wait(for: 2).count == 2)
        #expect(listings.load(ordering: .relaxed) == perRead)
    }

    // MARK: - Every operation, in order, with its content

    /// What a paced run saw at one commit: how many events had arrived, and
    /// the records committed, once the stream had reported all of them.
    struct Mark {
        var events: Int
        var devices: [SBDF: DeviceRecord]
    }

    /// Lets every transaction of an operation commit only after the stream
    /// has reported the state before it. Each transaction's events then
    /// arrive on their own, between two marks, instead of folded together
    /// as a lagging consumer would see them: that is what makes the order
    /// and content of the events exact.
    final class Pacer: Sendable {
        let recorder: EventRecorder
        let checker: PCIDatabase
        let marks = Mutex<[Mark]>([])
        let failure = Mutex<String?>(nil)

        init(recorder: EventRecorder, checker: PCIDatabase) {
            self.recorder = recorder
            self.checker = checker
        }

        /// Blocks its thread (never the test's executor: operations run on a
        /// thread of their own) until the stream's view is the store's.
        func mark() {
            let deadline = Date().addingTimeInterval(20)
            var committed = (try? checker.read().image.devices) ?? [:]
            while recorder.view != committed && Date() < deadline {
                usleep(2000)
                committed = (try? checker.read().image.devices) ?? [:]
            }
            if recorder.view != committed {
                failure.withLock { $0 = $0 ?? "the stream never reported \(committed.keys.sorted())" }
            }
            let count = recorder.received.count
            marks.withLock { $0.append(Mark(events: count, devices: committed)) }
        }

        var all: [Mark] { marks.withLock { $0 } }
    }

    /// Runs `body` on a thread of its own and waits for it without blocking
    /// the task's executor, so a pacing hook can block that thread.
    func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try body() }) }.start()
        }
    }

    enum Kind: Equatable { case added, removed, changed(Set<PCIEvent.Aspect>) }

    /// Every operation, each transaction let through only when the stream
    /// has caught up: the events between two commits are exactly the
    /// devices the later one changed, one event each, with the records
    /// committed before and after it, and the aspects the operation means.
    @Test(arguments: Backend.allCases)
    func everyOperationGivesItsEventsInOrderWithOldAndNewRecords(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        let rec = EventRecorder(try PCIDatabase(store: try f.connect()).events())
        #expect(await rec.wait(for: 1).first == .snapshot([]))
        let pacer = Pacer(recorder: rec, checker: PCIDatabase(store: try f.connect()))
        let paced = PCIDatabase(store: InterposedConnection(f.store) { r in
            if case .commit = r { pacer.mark() }
        }, actor: f.db.actor)
        let sysfs = f.sysfs
        let host = f.host
        try await onThread {
            _ = try paced.discover(sysfs: sysfs)
            _ = try paced.assignableAdd([sbdf("03:00.0")], name: DeviceName("nic0"), stub: .pciStub, sysfs: sysfs)
            _ = try paced.assignableAdd([sbdf("03:00.1")], stub: .pciStub, sysfs: sysfs)
            _ = try paced.assign([sbdf("03:00.0")], to: DomID(5), sysfs: sysfs)
            _ = try paced.release([sbdf("03:00.0")], sysfs: sysfs)
            try host.set("0000:05:00.0", "irq", "42")
            _ = try paced.discover(sysfs: sysfs)
            _ = try paced.assignableRemove(sbdf("03:00.0"), rebind: true, sysfs: sysfs)
            try host.unplug("0000:00:02.0")
            _ = try paced.discover(sysfs: sysfs)
            pacer.mark()
        }
        #expect(pacer.failure.withLock { $0 } == nil)
        #expect(rec.failure == nil)
        let events = rec.received
        let marks = pacer.all
        // Consecutive marks that differ are the transactions that changed devices.
        var seen: [(Set<SBDF>, Kind)] = []
        for (before, after) in zip(marks, marks.dropFirst()) {
            let slice = Array(events[before.events..<after.events])
            let touched = Set(before.devices.keys).union(after.devices.keys).filter { before.devices[$0] != after.devices[$0] }
            if touched.isEmpty {
                #expect(slice.isEmpty, "events for a commit that changed no device: \(slice)")
                continue
            }
            // One event per changed device, and nothing else.
            var addresses: [SBDF] = []
            var kinds: Set<String> = []
            var aspects: Set<Set<PCIEvent.Aspect>> = []
            for e in slice {
                switch e {
                case .added(let n):
                    addresses.append(n.address)
                    kinds.insert("added")
                    #expect(before.devices[n.address] == nil && after.devices[n.address] == n)
                case .removed(let o):
                    addresses.append(o.address)
                    kinds.insert("removed")
                    #expect(before.devices[o.address] == o && after.devices[o.address] == nil)
                case .changed(let o, let n, let a):
                    #expect(o.address == n.address)
                    addresses.append(n.address)
                    kinds.insert("changed")
                    aspects.insert(a)
                    #expect(before.devices[n.address] == o && after.devices[n.address] == n, "\(n.address)")
                    #expect(n.problems.isEmpty, "a half-written device: \(n.problems)")
                case .snapshot, .resync:
                    Issue.record("unexpected \(e)")
                }
            }
            #expect(addresses.count == Set(addresses).count, "a device twice in one transaction: \(addresses)")
            #expect(Set(addresses) == touched)
            guard kinds.count == 1 && aspects.count <= 1 else {
                Issue.record("one transaction, mixed events: \(slice)")
                continue
            }
            let kind: Kind = switch kinds.first! {
            case "added": .added
            case "removed": .removed
            default: .changed(aspects.first!)
            }
            seen.append((Set(addresses), kind))
        }
        let all: Set<SBDF> = Set(f.host.devices.map(\.address))
        let nic: Set<SBDF> = [sbdf("03:00.0")], peer: Set<SBDF> = [sbdf("03:00.1")], slot = nic.union(peer)
        let expected: [(Set<SBDF>, Kind)] = [
            (all, .added),                                            // discover
            (nic, .changed([.state, .renamed, .other])),              // assignable-add --name nic0: seizing, stub
            (nic, .changed([.state])),                                // … assignable
            (peer, .changed([.state, .other])),                       // assignable-add: seizing, stub
            (peer, .changed([.state])),                               // … assignable
            (slot, .changed([.state, .owner, .other])),               // assign: the whole slot, reset recorded
            (slot, .changed([.state, .owner, .other])),               // release: the whole slot
            ([sbdf("05:00.0")], .changed([.resources])),              // discover after the irq changed
            (nic, .changed([.state, .renamed, .other])),              // assignable-remove -r: returning, name gone
            (nic, .changed([.state, .other])),                        // … present, stub gone
            ([sbdf("00:02.0")], .removed),                            // discover after an unplug
        ]
        #expect(seen.count == expected.count, "\(seen)")
        for (i, (got, want)) in zip(seen, expected).enumerated() {
            #expect(got.0 == want.0 && got.1 == want.1, "transaction \(i): \(got) instead of \(want)")
        }
        // Nothing more comes, and the stream's picture is the store's.
        #expect(await rec.settle().count == events.count)
        #expect(rec.view == (try f.db.read().image.devices))
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

    /// A transaction over many devices is one event per device, each with
    /// the device's committed state, whatever order the node events come in.
    /// The consumer reads only after the commit, so all the node events wait
    /// together: on the engine, which queues them before the commit returns,
    /// that costs one read per device. (Through a socket the last ones may
    /// still be on their way when the first is read.)
    @Test(.timeLimit(.minutes(1)), arguments: Backend.allCases)
    func aTransactionOverManyDevicesIsOneWholeEventPerDevice(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        let functions = (0..<8).map { try! SBDF(segment: 0, bus: 0x20, device: 0, function: UInt8($0)) }
        var image = DatabaseImage()
        for a in functions {
            image.devices[a] = DeviceRecord(
                address: a, identity: PCIIdentity(vendor: 0x8086, device: 0x10c9, subsystemVendor: 0x8086, subsystemDevice: 1, classCode: 0x020000, revision: 1),
                topology: PCITopology(slotFunctions: (0..<8).map(UInt8.init), numaNode: 0),
                resources: PCIResources(bars: [], irq: 16, msi: true, msix: false),
                state: .assignable, originalDriver: try DriverName("igb"), stub: .pciStub,
                changed: ChangeStamp(time: 1_764_100_800, operation: "restore"))
        }
        _ = try f.db.restore(image.entries, replace: true)
        let deviceReads = Atomic<Int>(0)
        let depth = PCIStoreLayout.devices.components.count + 3
        let store = InterposedConnection(try f.connect()) { r in
            if case .directory(let p) = r, p.components.count == depth { deviceReads.add(1, ordering: .relaxed) }
        }
        var events = try PCIDatabase(store: store).events().makeAsyncIterator()
        guard case .snapshot(let rows)? = try await events.next() else { Issue.record("no snapshot"); return }
        #expect(rows.count == 8)
        deviceReads.store(0, ordering: .relaxed)
        // One transaction: all eight functions of the slot, five nodes each.
        _ = try f.db.assign([functions[3]], to: DomID(12), sysfs: nil)
        var changes: [(DeviceRecord, DeviceRecord)] = []
        while changes.count < 8 {
            guard case .changed(let o, let n, _)? = try await events.next() else { Issue.record("not a change"); return }
            changes.append((o, n))
        }
        if backend == .engine { #expect(deviceReads.load(ordering: .relaxed) == 8) }
        #expect(Set(changes.map(\.1.address)) == Set(functions))
        let committed = try f.db.read().image.devices
        for (o, n) in changes {
            #expect(o.state == .assignable && o.domain == nil)
            #expect(n == committed[n.address], "not the committed record of \(n.address)")
        }
        // Nothing more came of that transaction: the next event is the release's.
        _ = try f.db.release([functions[0]], sysfs: nil)
        guard case .changed(let o, let n, _)? = try await events.next() else { Issue.record("no release"); return }
        #expect(o.state == .assigned && n.state == .assignable)
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

    // MARK: - Resync

    /// The watch ends when the connection is closed under it; the stream
    /// reconnects, re-watches and says resync with the state it missed.
    @Test(arguments: Backend.allCases)
    func resyncAfterTheConnectionDrops(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let first = try f.connect()
        let rec = EventRecorder(try PCIDatabase(store: first).events(reconnect: { [f] in PCIDatabase(store: try f.connect()) }))
        await rec.wait(for: 1)
        first.close()
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(8), sysfs: f.sysfs)
        let got = await rec.wait(until: { $0.contains { if case .resync = $0 { true } else { false } } })
        guard let resync = got.first(where: { if case .resync = $0 { true } else { false } }), case .resync(let rows) = resync
        else { Issue.record("\(rec.failure ?? "") \(got)"); return }
        #expect(rows.map(\.address) == [sbdf("05:00.0")])
        // The resync, or an event after it, has the assignment: it is never lost.
        #expect(try await rec.wait(untilViewIs: { try f.db.read().image.devices }))
        #expect(rec.view[sbdf("05:00.0")]?.domain == (try DomID(8)))
        // And the new connection's watch works.
        _ = try f.db.release([sbdf("05:00.0")], sysfs: f.sysfs)
        #expect(try await rec.wait(untilViewIs: { try f.db.read().image.devices }))
        #expect(rec.view[sbdf("05:00.0")]?.state == .assignable)
        #expect(rec.failure == nil)
    }

    /// Without a way to reconnect, a lost connection is an error, never a
    /// quiet end that a consumer could take for "nothing more happened".
    @Test(arguments: Backend.allCases)
    func aLostConnectionWithoutReconnectIsAnError(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        let first = try f.connect()
        let rec = EventRecorder(try PCIDatabase(store: first).events())
        await rec.wait(for: 1)
        first.close()
        let deadline = Date().addingTimeInterval(20)
        while rec.failure == nil && Date() < deadline { try await Task.sleep(nanoseconds: 2_000_000) }
        #expect(rec.failure?.contains("UNREACHABLE") == true, "\(rec.failure ?? "no failure")")
    }

    /// The real daemon is stopped mid-stream and a new one, with an empty
    /// store, starts on the same socket. The stream notices (the XenStore
    /// layer ends its watch), keeps trying while no daemon answers, and says
    /// resync with what the new one holds: nothing. What is written there
    /// next follows.
    @Test func resyncAfterTheDaemonRestarts() async throws {
        let f = try PCIFixture(.xenstored)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, sysfs: f.sysfs)
        let daemon = f.daemon!
        let attempts = Atomic<Int>(0)
        let rec = EventRecorder(try PCIDatabase(store: try daemon.connect()).events(reconnect: {
            attempts.add(1, ordering: .relaxed)
            return PCIDatabase(store: try daemon.connect())
        }))
        guard case .snapshot(let rows)? = await rec.wait(for: 1).first else { Issue.record("no snapshot"); return }
        #expect(rows.count == 2)
        let entries = try f.db.read().image.entries
        daemon.stop()
        // The stream tries, fails, and tries again while the daemon is down.
        let deadline = Date().addingTimeInterval(20)
        while attempts.load(ordering: .relaxed) < 2 && Date() < deadline { try await Task.sleep(nanoseconds: 2_000_000) }
        #expect(attempts.load(ordering: .relaxed) >= 2)
        #expect(rec.failure == nil)
        try daemon.startAgain()
        let got = await rec.wait(until: { $0.contains { if case .resync = $0 { true } else { false } } })
        guard case .resync(let after)? = got.last else { Issue.record("\(rec.failure ?? "") \(got)"); return }
        #expect(after.isEmpty, "the new daemon's store is empty: \(after)")
        #expect(rec.view.isEmpty)
        // The database comes back (as a restore would bring it) and changes.
        let db = PCIDatabase(store: try daemon.connect(), actor: f.db.actor)
        _ = try db.restore(entries, replace: false)
        _ = try db.assign([sbdf("03:00.0")], to: DomID(4), sysfs: nil)
        #expect(try await rec.wait(untilViewIs: { try db.read().image.devices }))
        #expect(rec.view[sbdf("03:00.1")]?.domain == (try DomID(4)))
        #expect(rec.failure == nil)
    }

    /// A consumer that stops reading while more node events come than its
    /// buffer holds gets one resync with the final state, then carries on.
    @Test(arguments: Backend.allCases)
    func aConsumerThatFallsBehindGetsAResync(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1"), sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let watcher = try f.connect()
        var events = try PCIDatabase(store: watcher).events(bufferLimit: 8).makeAsyncIterator()
        guard case .snapshot(let rows)? = try await events.next() else { Issue.record("no snapshot"); return }
        #expect(rows.map(\.state) == [.assignable, .assignable, .assignable])
        // A second watch on the same connection hears the same node events,
        // in the same order; its sentinel says when all have arrived.
        let sentinel = try XenStorePath("/sentinel")
        let marker = WatchRecorder(try watcher.watch(sentinel))
        await marker.wait(for: 1)
        // Dozens of node events, and nobody reads the stream. Three devices,
        // so even if cxenstored folded every repeat of a node into one event
        // (it drops an event identical to one still queued), more than eight
        // distinct nodes fire.
        for _ in 0..<5 {
            _ = try f.db.assign([sbdf("05:00.0")], to: DomID(3), sysfs: nil)
            _ = try f.db.release([sbdf("05:00.0")], sysfs: nil)
            _ = try f.db.assign([sbdf("03:00.0")], to: DomID(3), sysfs: nil)
            _ = try f.db.release([sbdf("03:00.0")], sysfs: nil)
        }
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(9), sysfs: nil)
        try f.store.write(sentinel, "1")
        #expect(await marker.wait(for: 2).count == 2)
        // What the consumer reads next is the final state, as a resync.
        guard case .resync(let now)? = try await events.next() else { Issue.record("no resync"); return }
        #expect(now == (try f.db.read().image.devices.values.sorted { $0.address < $1.address }))
        #expect(now.last?.domain == (try DomID(9)))
        // And the stream carries on.
        _ = try f.db.release([sbdf("05:00.0")], sysfs: nil)
        guard case .changed(let old, let new, let aspects)? = try await events.next() else { Issue.record("no change"); return }
        #expect(old.domain == (try DomID(9)) && new.domain == nil && aspects.isSuperset(of: [.state, .owner]))
    }

    // MARK: - Dropping the iterator

    /// The engine keeps cxenstored's watch quota for unprivileged domains:
    /// with a quota of one watch, a second stream can start only once the
    /// first one's iterator is gone.
    @Test func droppingTheIteratorUnwatchesOnTheEngine() async throws {
        let engine = XenStoreEngine(quotas: XenStoreQuotas(watchesPerDomain: 0))
        let admin = PCIDatabase(store: engine.connect())
        try admin.initialize()
        // Domain 3 may read the database (it is dom0's only, by default).
        let reader = try DomID(3)
        for e in try admin.store.subtree(PCIStoreLayout.root) {
            try admin.store.setPermissions(e.path, XenStorePermissions(owner: .dom0, others: .none, entries: [.init(reader, .read)]))
        }
        let guest = PCIDatabase(store: engine.connect(as: reader))
        func firstEvent() async throws -> PCIEvent? {
            var it = try guest.events().makeAsyncIterator()
            return try await it.next()
        }
        var it = try guest.events().makeAsyncIterator()
        #expect(try await it.next() == .snapshot([]))
        do {
            _ = try await firstEvent()
            Issue.record("a second watch fit the quota of one")
        } catch let e as XenStoreError {
            #expect(e.code == .tooBig)
        }
        _ = consume it
        // Both iterators are gone: a new stream fits again.
        #expect(try await firstEvent() == .snapshot([]))
    }

    /// On the real daemon: its trace shows the UNWATCH the dropped iterator sent.
    @Test func droppingTheIteratorUnwatchesOnTheDaemon() async throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-trace-\(UUID().uuidString.prefix(8)).log").path
        let daemon = try RealXenStored.start(arguments: ["-T", trace])
        defer { daemon.stop() }
        let db = PCIDatabase(store: try daemon.connect())
        try db.initialize()
        func requests(_ type: String) -> Int {
            let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains(" \(type) (") && $0.contains("/local/pci/devices") && $0.hasPrefix("IN ") }.count
        }
        do {
            var it = try db.events().makeAsyncIterator()
            #expect(try await it.next() == .snapshot([]))
            #expect(requests("WATCH") == 1)
            #expect(requests("UNWATCH") == 0)
        }
        // The iterator is gone with its scope.
        let deadline = Date().addingTimeInterval(20)
        while requests("UNWATCH") == 0 && Date() < deadline { try await Task.sleep(nanoseconds: 2_000_000) }
        #expect(requests("UNWATCH") == 1)
    }
}
