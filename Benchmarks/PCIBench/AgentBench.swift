import Foundation
import PCIStore
import PCIStoreSchema
import XenStore

extension PCIBench {
    /// A sysfs tree of one resettable function in a temp dir: a reset there
    /// is a write to a plain file, so the round trip measures the protocol,
    /// not a device. Nothing real is touched.
    static func benchSysfs() throws -> (Sysfs, SBDF) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pci-bench-sysfs-\(getpid())").path
        let a = try SBDF("0000:00:01.0")
        let dir = root + "/bus/pci/devices/" + a.description
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/bus/pci/drivers/pciback", withIntermediateDirectories: true)
        for (f, v) in [("vendor", "0x8086"), ("device", "0x10c9"), ("class", "0x020000"), ("reset", ""), ("reset_method", "flr")] {
            try v.write(toFile: dir + "/" + f, atomically: false, encoding: .utf8)
        }
        return (Sysfs(root: root), a)
    }

    /// The request round trip: the toolstack writes a reset request (one
    /// transaction), the agent takes it up, journals, resets, answers (two
    /// transactions), the toolstack sees the answer through its watch and
    /// frees the slot (one transaction). Timed from before the request is
    /// written until the slot is free again, the answer read.
    /// The agent is domain 7: unprivileged on the engine, a second dom0
    /// connection on the daemon. Baseline in the same run: the floor of any
    /// request/answer over XenStore, a write that a watcher on another
    /// connection answers with a write the first one sees (two watch hops).
    static func agentRoundTrip(_ connect: @Sendable () throws -> any XenStoreConnection,
                               agentConnect: @Sendable () throws -> any XenStoreConnection,
                               _ impl: String, rounds: Int) async throws {
        let clock = ContinuousClock()
        let toolstack = try connect()
        let db = PCIDatabase(store: toolstack)
        let d = try DomID(7)
        try toolstack.introduceDomain(d)
        try db.initialize()
        _ = try db.registerAgent(d, config: AgentConfig())
        let (sysfs, a) = try benchSysfs()
        defer { try? FileManager.default.removeItem(atPath: sysfs.root) }

        // Baseline: ping → pong between the two connections, each seen by a
        // watch, on nodes of the agent's area (so the agent's domain may).
        let ping = AgentLayout.result(d, 0), pong = AgentLayout.heartbeat(d)
        let other = try agentConnect()
        let rawLatencies: [Double] = try await withThrowingTaskGroup(of: Void.self) { group in
            let pings = try other.watch(ping)
            group.addTask {
                var it = pings.makeAsyncIterator()
                _ = await it.next()
                while await it.next() != nil {
                    try other.write(pong, "pong " + (try other.readString(ping)))
                }
            }
            defer { group.cancelAll(); pings.cancel() }
            let pongs = try toolstack.watch(pong)
            defer { pongs.cancel() }
            var it = pongs.makeAsyncIterator()
            _ = await it.next()
            var out: [Double] = []
            for n in 1...rounds {
                let start = clock.now
                try toolstack.write(ping, "ping\(n)")
                repeat {
                    guard await it.next() != nil else { throw Failure(description: "the pong watch ended") }
                } while try toolstack.readString(pong) != "pong ping\(n)"
                out.append(microseconds(clock.now - start))
            }
            return out
        }
        try toolstack.write(ping, "none")
        try toolstack.write(pong, "none")

        let agent = HardwareAgent(domain: d, store: try agentConnect(), sysfs: sysfs,
                                  options: .init(heartbeat: .seconds(2), refresh: .seconds(3600)))
        let client = AgentClient(store: toolstack, domain: d, timeout: .seconds(60), downAfter: .seconds(60))
        let latencies: [Double] = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.run() }
            defer { group.cancelAll() }
            // The agent has started once it has published.
            while try client.published() == nil { try await Task.sleep(for: .milliseconds(5)) }
            var out: [Double] = []
            for _ in 0..<rounds {
                let start = clock.now
                let (r, _) = try await db.send(.reset, [a], agent: client)
                out.append(microseconds(clock.now - start))
                guard r.state == .done, r.outcome == ["flr"] else { throw Failure(description: "the agent answered \(r.encoded)") }
            }
            return out
        }
        let w = latencies.sorted(), raw = rawLatencies.sorted()
        print(String(format: "{\"impl\":\"%@\",\"mode\":\"agent\",\"rounds\":%d,\"request_round_trip_p50_us\":%.1f,\"request_round_trip_p99_us\":%.1f,\"ping_pong_p50_us\":%.1f,\"ping_pong_p99_us\":%.1f}",
                     impl, rounds, rank(w, 0.5), rank(w, 0.99), rank(raw, 0.5), rank(raw, 0.99)))
    }
}
