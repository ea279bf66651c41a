import Foundation
import PCIStore
import PCIStoreSchema
import XenStore

/// The PCI database's benchmark, the Swift half of `Benchmarks/run-pci.sh`:
///
///   pci-bench populate --devices N          restore N devices (16+ buses of 256 functions)
///   pci-bench list                          read the whole database (bus by bus)
///   pci-bench dump                          read it and render both dump forms
///   pci-bench assign-release --rounds R     assign + release one device R times
///   pci-bench reap --reap-rounds R          XS_RELEASE of a domain holding one device until a
///                                           watcher sees the device assignable, with a
///                                           DeadDomainReaper running; beside it the raw
///                                           XS_RELEASE → @releaseDomain watch round trip
///   pci-bench events --event-rounds R --burst B
///                                           the typed event stream: assign/release of one device
///                                           until its `changed` event, R times each, beside the raw
///                                           write → watch event round trip; then events per second
///                                           for B changes (one transaction each, written while read)
///                                           beside B raw node writes, and for the stream alone
///   pci-bench agent --agent-rounds R        a reset request through a HardwareAgent (domain 7) and back,
///                                           R times; beside it a write/watch ping-pong between the
///                                           same two connections
///   pci-bench all                           every mode in turn (for the engine, which lives in process)
///
/// `--backend xenstored` (default; XENSTORED_PATH) or `--backend engine`
/// (in process, so use `all`). One JSON line per mode.
@main
struct PCIBench {
    static func fail(_ why: String, _ code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("pci-bench: \(why)\n".utf8))
        exit(code)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static let device = try! SBDF("0000:00:00.0")

    static func image(_ n: Int) -> DatabaseImage {
        var image = DatabaseImage()
        for i in 0..<n {
            let a = try! SBDF(segment: 0, bus: UInt8(i / 256), device: UInt8(i % 256 / 8), function: UInt8(i % 8))
            image.devices[a] = DeviceRecord(
                address: a,
                identity: PCIIdentity(vendor: 0x8086, device: 0x10c9, subsystemVendor: 0x8086, subsystemDevice: 0xa03c, classCode: 0x020000, revision: 1),
                // Each function alone in its slot, so one assign is one device's transaction.
                topology: PCITopology(slotFunctions: [a.function], numaNode: 0),
                resources: PCIResources(bars: [PCIBar(index: 0, kind: .mem64p, start: 0x40_0000_0000 + UInt64(i) << 20, size: 0x10_0000)], irq: 16, msi: true, msix: true),
                state: .assignable, originalDriver: try! DriverName("igb"), stub: .pciback,
                changed: ChangeStamp(time: 1_764_100_800, operation: "restore"))
        }
        return image
    }

    static func main() async {
        var args = Array(CommandLine.arguments.dropFirst())
        var backend = "xenstored", devices = 4096, rounds = 500, reapRounds = 50, eventRounds = 200, burst = 500, agentRounds = 200
        guard !args.isEmpty else { fail("usage: pci-bench populate|list|dump|assign-release|reap|events|agent|all [--backend B] [--devices N] [--rounds R] [--reap-rounds P] [--event-rounds R] [--burst B] [--agent-rounds A]", 64) }
        let mode = args.removeFirst()
        while !args.isEmpty {
            let k = args.removeFirst()
            guard !args.isEmpty else { fail("\(k) needs a value", 64) }
            let v = args.removeFirst()
            switch k {
            case "--backend": backend = v
            case "--devices": devices = Int(v) ?? 0
            case "--rounds": rounds = Int(v) ?? 0
            case "--reap-rounds": reapRounds = Int(v) ?? 0
            case "--event-rounds": eventRounds = Int(v) ?? 0
            case "--burst": burst = Int(v) ?? 0
            case "--agent-rounds": agentRounds = Int(v) ?? 0
            default: fail("unknown option \(k)", 64)
            }
        }
        guard devices >= 1 && devices <= 65536 && rounds >= 1 && reapRounds >= 1 && eventRounds >= 1
              && burst >= 1 && burst < devices && agentRounds >= 1 else {
            fail("bad --devices, --rounds, --reap-rounds, --event-rounds, --burst (1…devices-1) or --agent-rounds", 64)
        }
        do {
            let connect: @Sendable () throws -> any XenStoreConnection
            // The agent's domain: unprivileged on the engine; a daemon socket is always dom0.
            let agentConnect: @Sendable () throws -> any XenStoreConnection
            let impl: String
            switch backend {
            case "xenstored":
                connect = { try LibXenStoreConnection() }
                agentConnect = connect
                impl = "swift-libxenstore"
            case "engine":
                let engine = XenStoreEngine()
                connect = { engine.connect() }
                agentConnect = { engine.connect(as: try DomID(7)) }
                impl = "swift-engine"
            default: fail("unknown backend \(backend)", 64)
            }
            let db = PCIDatabase(store: try connect())
            let modes = mode == "all" ? ["populate", "list", "dump", "assign-release", "reap", "events", "agent"] : [mode]
            for m in modes {
                if m == "agent" {
                    try await agentRoundTrip(connect, agentConnect: agentConnect, impl, rounds: agentRounds)
                } else if m == "reap" {
                    try await reap(connect, impl, devices: devices, rounds: reapRounds)
                } else if m == "events" {
                    try await events(connect, impl, devices: devices, rounds: eventRounds, burst: burst)
                } else {
                    try run(m, db, impl, devices: devices, rounds: rounds)
                }
            }
        } catch {
            fail("\(error)")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func microseconds(_ d: Duration) -> Double { seconds(d) * 1e6 }

    /// p-th rank of sorted values (as the XenStore benchmark ranks).
    static func rank(_ sorted: [Double], _ p: Double) -> Double {
        sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
    }

    /// Dead-domain latency. The toolstack's part (introduce, assign, release)
    /// runs on one connection, a watcher on another, the reaper on a third,
    /// as three processes would. Each round: introduce domain 5, assign the
    /// device to it (store only), then time from XS_RELEASE until the watcher
    /// reads `state = assignable`, and let the reaper finish before the next
    /// round. The baseline, first: XS_RELEASE of domain 6 until the watcher's
    /// `@releaseDomain` event, the floor any reaper stands on. The reaper's
    /// own cost is a scan of every device's `domain` leaf, so it grows with
    /// the database.
    static func reap(_ connect: @Sendable () throws -> any XenStoreConnection, _ impl: String,
                     devices: Int, rounds: Int) async throws {
        let clock = ContinuousClock()
        let toolstack = try connect()
        let watcher = try connect()
        let db = PCIDatabase(store: toolstack)
        let (dead, raw) = (try DomID(5), try DomID(6))
        guard try db.record(device)?.state == .assignable else { throw Failure(description: "reap needs \(device) assignable: run populate first") }

        var rawLatencies: [Double] = []
        let releases = try watcher.watch(.releaseDomain)
        var released = releases.makeAsyncIterator()
        _ = await released.next()
        for _ in 0..<rounds {
            try toolstack.introduceDomain(raw)
            let start = clock.now
            try toolstack.releaseDomain(raw)
            guard await released.next() != nil else { throw Failure(description: "the @releaseDomain watch ended") }
            rawLatencies.append(microseconds(clock.now - start))
        }
        releases.cancel()

        let stateNode = PCIStoreLayout.node(device, "state")
        let (reconciled, tell) = AsyncStream.makeStream(of: Void.self)
        let reaper = DeadDomainReaper(database: PCIDatabase(store: try connect()), sysfs: nil) { event in
            if case .reconciled = event { tell.yield() }
        }
        let reapLatencies: [Double] = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reaper.run() }
            defer { group.cancelAll() }
            var done = reconciled.makeAsyncIterator()
            _ = await done.next()  // the start-up reconciliation
            let states = try watcher.watch(stateNode)
            defer { states.cancel() }
            var changed = states.makeAsyncIterator()
            _ = await changed.next()
            var out: [Double] = []
            for _ in 0..<rounds {
                try toolstack.introduceDomain(dead)
                _ = try db.assign([device], to: dead, sysfs: nil)
                let start = clock.now
                try toolstack.releaseDomain(dead)
                // Events of the assignment may still be on their way: read until assignable.
                repeat {
                    guard await changed.next() != nil else { throw Failure(description: "the state watch ended") }
                } while try watcher.readString(stateNode) != "assignable"
                out.append(microseconds(clock.now - start))
                _ = await done.next()
            }
            return out
        }
        let r = rawLatencies.sorted(), w = reapLatencies.sorted()
        print(String(format: "{\"impl\":\"%@\",\"mode\":\"reap\",\"devices\":%d,\"rounds\":%d,\"release_to_assignable_p50_us\":%.1f,\"release_to_assignable_p99_us\":%.1f,\"release_watch_p50_us\":%.1f,\"release_watch_p99_us\":%.1f}",
                     impl, devices, rounds, rank(w, 0.5), rank(w, 0.99), rank(r, 0.5), rank(r, 0.99)))
    }

    /// The typed event stream, against the raw watch it is built on, in the
    /// same run. The toolstack writes on one connection; the watcher reads
    /// on another, in this task (as `pcistore watch` does).
    ///
    /// 1. Raw round trip, R times: write one node, wait for its watch event.
    /// 2. Typed latency, R times each: assign the device (store only), wait
    ///    for its `changed` event to `assigned`; release it, wait for the
    ///    event to `assignable`. Timed from the start of the operation, so it
    ///    holds the operation's own transaction (its duration is reported
    ///    too) and the stream's read of the whole device.
    /// 3. Events per second: B other devices assigned by a writer thread, one
    ///    transaction each, while the stream is read, from the first write
    ///    until the B-th typed event; beside it, B raw node writes by a writer
    ///    thread until the B-th watch event. Then the stream alone: all B
    ///    released in one transaction, from its commit until the B-th event
    ///    (the transaction's own time, which grows with its size on
    ///    cxenstored, is reported apart).
    static func events(_ connect: @Sendable () throws -> any XenStoreConnection, _ impl: String,
                       devices: Int, rounds: Int, burst: Int) async throws {
        let clock = ContinuousClock()
        let toolstack = try connect()
        let watcher = try connect()
        let db = PCIDatabase(store: toolstack)
        guard try db.record(device)?.state == .assignable else { throw Failure(description: "events needs \(device) assignable: run populate first") }

        // 1. Raw: outside the device tree, so the typed stream never hears it.
        let rawPath: XenStorePath = "/local/pci-bench/raw"
        try toolstack.write(rawPath, "0")
        var rawLatencies: [Double] = []
        do {
            let raw = try watcher.watch(rawPath)
            defer { raw.cancel() }
            var it = raw.makeAsyncIterator()
            _ = await it.next()
            for i in 0..<rounds {
                let start = clock.now
                try toolstack.write(rawPath, "\(i)")
                guard await it.next() != nil else { throw Failure(description: "the raw watch ended") }
                rawLatencies.append(microseconds(clock.now - start))
            }
        }

        // 2. Typed.
        var stream = try PCIDatabase(store: watcher).events().makeAsyncIterator()
        guard case .snapshot(let rows)? = try await stream.next(), rows.count == devices else {
            throw Failure(description: "the stream's snapshot is not the \(devices) devices")
        }
        var resyncs = 0
        /// Reads the stream until `count` changes to `state` of `among` came.
        func collect(_ count: Int, to state: DeviceState, among: Set<SBDF>) async throws {
            var seen = 0
            while seen < count {
                switch try await stream.next() {
                case .changed(_, let n, _)? where n.state == state && among.contains(n.address): seen += 1
                case .resync?: resyncs += 1
                case nil: throw Failure(description: "the event stream ended")
                default: break
                }
            }
        }
        var typed: [Double] = [], operations: [Double] = []
        let domain = try DomID(5)
        for _ in 0..<rounds {
            for assigning in [true, false] {
                let start = clock.now
                if assigning {
                    _ = try db.assign([device], to: domain, sysfs: nil)
                } else {
                    _ = try db.release([device], sysfs: nil)
                }
                operations.append(microseconds(clock.now - start))
                try await collect(1, to: assigning ? .assigned : .assignable, among: [device])
                typed.append(microseconds(clock.now - start))
            }
        }

        // 3. Bursts. Each of these devices is alone in its slot: one change each.
        let targets = Set(image(burst + 1).devices.keys.filter { $0 != device })
        let writer = PCIDatabase(store: try connect())
        let separateStart = clock.now
        let assigning = Thread {
            for a in targets.sorted() { _ = try? writer.assign([a], to: domain, sysfs: nil) }
        }
        assigning.start()
        try await collect(burst, to: .assigned, among: targets)
        let separate = seconds(clock.now - separateStart)
        let oneStart = clock.now
        _ = try db.release(targets.sorted(), sysfs: nil)
        let committed = clock.now
        try await collect(burst, to: .assignable, among: targets)
        let streamAlone = seconds(clock.now - committed), bigTransaction = seconds(committed - oneStart)

        let burstPath: XenStorePath = "/local/pci-bench/burst"
        try toolstack.write(burstPath, "")
        let rawBurst = try watcher.watch(burstPath)
        var rawIt = rawBurst.makeAsyncIterator()
        _ = await rawIt.next()
        let rawStart = clock.now
        let rawWriter = try connect()
        let paths = try (0..<burst).map { try XenStorePath("/local/pci-bench/burst/n\($0)") }
        Thread { for p in paths { try? rawWriter.write(p, "1") } }.start()
        for _ in 0..<burst {
            guard await rawIt.next() != nil else { throw Failure(description: "the raw burst watch ended") }
        }
        let rawSeconds = seconds(clock.now - rawStart)
        rawBurst.cancel()
        try toolstack.remove("/local/pci-bench")

        let r = rawLatencies.sorted(), t = typed.sorted(), o = operations.sorted()
        print(String(format: "{\"impl\":\"%@\",\"mode\":\"events\",\"devices\":%d,\"rounds\":%d,\"burst\":%d,\"typed_p50_us\":%.1f,\"typed_p99_us\":%.1f,\"operation_p50_us\":%.1f,\"raw_p50_us\":%.1f,\"raw_p99_us\":%.1f,\"burst_typed_events_per_s\":%.0f,\"burst_raw_events_per_s\":%.0f,\"stream_events_per_s\":%.0f,\"one_transaction_seconds\":%.3f,\"resyncs\":%d}",
                     impl, devices, rounds, burst, rank(t, 0.5), rank(t, 0.99), rank(o, 0.5), rank(r, 0.5), rank(r, 0.99),
                     Double(burst) / separate, Double(burst) / rawSeconds, Double(burst) / streamAlone, bigTransaction, resyncs))
    }

    static func run(_ mode: String, _ db: PCIDatabase, _ impl: String, devices: Int, rounds: Int) throws {
        let clock = ContinuousClock()
        switch mode {
        case "populate":
            let img = image(devices)
            let t = try clock.measure { _ = try db.restore(img.entries, replace: true) }
            print("{\"impl\":\"\(impl)\",\"mode\":\"populate\",\"devices\":\(devices),\"seconds\":\(seconds(t))}")
        case "list":
            var n = 0
            let t = try clock.measure { n = try db.read().image.devices.count }
            print("{\"impl\":\"\(impl)\",\"mode\":\"list\",\"devices\":\(n),\"seconds\":\(seconds(t))}")
        case "dump":
            var bytes = 0
            let t = try clock.measure {
                let image = try db.read().image
                bytes = image.xenstoreText.utf8.count + DatabaseJSON.encode(Array(image.devices.values)).utf8.count
            }
            print("{\"impl\":\"\(impl)\",\"mode\":\"dump\",\"bytes\":\(bytes),\"seconds\":\(seconds(t))}")
        case "assign-release":
            let domain = try DomID(5)
            let t = try clock.measure {
                for _ in 0..<rounds {
                    _ = try db.assign([device], to: domain, sysfs: nil)
                    _ = try db.release([device], sysfs: nil)
                }
            }
            print("{\"impl\":\"\(impl)\",\"mode\":\"assign-release\",\"rounds\":\(rounds),\"seconds\":\(seconds(t)),\"pairs_per_s\":\(Double(rounds) / seconds(t))}")
        default:
            fail("unknown mode \(mode)", 64)
        }
    }
}
