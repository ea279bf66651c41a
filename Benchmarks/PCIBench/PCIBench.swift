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
        var backend = "xenstored", devices = 4096, rounds = 500, reapRounds = 50, agentRounds = 200
        guard !args.isEmpty else { fail("usage: pci-bench populate|list|dump|assign-release|reap|agent|all [--backend B] [--devices N] [--rounds R] [--reap-rounds P] [--agent-rounds A]", 64) }
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
            case "--agent-rounds": agentRounds = Int(v) ?? 0
            default: fail("unknown option \(k)", 64)
            }
        }
        guard devices >= 1 && devices <= 65536 && rounds >= 1 && reapRounds >= 1 && agentRounds >= 1 else {
            fail("bad --devices, --rounds, --reap-rounds or --agent-rounds", 64)
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
            let modes = mode == "all" ? ["populate", "list", "dump", "assign-release", "reap", "agent"] : [mode]
            for m in modes {
                if m == "agent" {
                    try await agentRoundTrip(connect, agentConnect: agentConnect, impl, rounds: agentRounds)
                } else if m == "reap" {
                    try await reap(connect, impl, devices: devices, rounds: reapRounds)
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
        let reaper = DeadDomainReaper(database: PCIDatabase(store: try connect()), sysfs: nil, probeInterval: nil) { event in
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
