import Foundation
import XenStore

/// The XenStore layer's benchmark: the workload of `Benchmarks/c/xsbench.c`,
/// done through the Swift layer, on the real daemon (libxenstore backend) or
/// on the embedded engine. `Benchmarks/run.sh` runs all three in one go and
/// prints the ratios against the C baseline.
///
///   xenstore-bench --backend xenstored|engine --devices N --nodes K --watch-rounds R --root /bench/swift
@main
struct XenStoreBench {
    struct Options {
        var backend = "xenstored"
        var devices = 1024
        var nodes = 8
        var watchRounds = 2000
        var root = "/bench/swift"
    }

    static func usage(_ why: String) -> Never {
        FileHandle.standardError.write(Data("xenstore-bench: \(why)\nusage: xenstore-bench --backend xenstored|engine --devices N --nodes K --watch-rounds R --root PATH\n".utf8))
        exit(64)
    }

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var it = args.makeIterator()
        while let a = it.next() {
            guard let v = it.next() else { usage("\(a): missing value") }
            func int() -> Int {
                guard let n = Int(v), n >= 1 else { usage("\(a): need an integer >= 1") }
                return n
            }
            switch a {
            case "--backend": o.backend = v
            case "--devices": o.devices = int()
            case "--nodes": o.nodes = int()
            case "--watch-rounds": o.watchRounds = int()
            case "--root": o.root = v
            default: usage("unknown option \(a)")
            }
        }
        return o
    }

    /// The C program's device names: segment i/8192, bus i/32%256, slot i%32, function 0.
    static func deviceName(_ i: Int) -> XenStoreNodeName {
        func hex(_ v: Int, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return try! XenStoreNodeName("\(hex(i / 8192, 4))-\(hex(i / 32 % 256, 2))-\(hex(i % 32, 2))-0")
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func main() async {
        let o = parse(Array(CommandLine.arguments.dropFirst()))
        do {
            let connection: any XenStoreConnection
            let impl: String
            switch o.backend {
            case "xenstored":
                connection = try LibXenStoreConnection()
                impl = "swift-libxenstore"
            case "engine":
                connection = XenStoreEngine().connect()
                impl = "swift-engine"
            default:
                usage("unknown backend \(o.backend)")
            }
            try await run(o, connection, impl)
        } catch {
            FileHandle.standardError.write(Data("xenstore-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ o: Options, _ c: any XenStoreConnection, _ impl: String) async throws {
        let root = try XenStorePath(o.root)
        let devices = try root.appending("devices")
        let clock = ContinuousClock()
        try? c.remove(root)

        let leafNames = try (0..<o.nodes).map { try XenStoreNodeName("n\($0)") }
        let populate = try clock.measure {
            for i in 0..<o.devices {
                let device = try devices.appending(deviceName(i))
                try c.transaction { tx in
                    for (j, leaf) in leafNames.enumerated() {
                        try tx.write(try device.appending(leaf), "value-\(i)-\(j)")
                    }
                }
            }
        }

        let list = try clock.measure {
            let names = try c.directory(devices)
            guard names.count == o.devices else { throw BenchError("listed \(names.count) devices, wrote \(o.devices)") }
            for name in names {
                let device = try devices.appending(name)
                for leaf in try c.directory(device) {
                    let value = try c.read(try device.appending(leaf))
                    guard value.starts(with: Array("value-".utf8)) else { throw BenchError("bad value at \(device)/\(leaf)") }
                }
            }
        }

        let rtt = try root.appending("rtt")
        let rttValue = try rtt.appending("v")
        let watch = try c.watch(rtt)
        var events = watch.makeAsyncIterator()
        _ = await events.next()
        var latencies: [Double] = []
        latencies.reserveCapacity(o.watchRounds)
        for round in 0..<o.watchRounds {
            let start = clock.now
            try c.write(rttValue, String(round))
            guard await events.next() != nil else { throw BenchError("watch ended") }
            latencies.append(seconds(clock.now - start) * 1e6)
        }
        watch.cancel()
        try c.remove(root)

        latencies.sort()
        func rank(_ p: Double) -> Double { latencies[max(0, Int((p * Double(latencies.count)).rounded(.up)) - 1)] }
        let mean = latencies.reduce(0, +) / Double(latencies.count)
        let p = seconds(populate), l = seconds(list)
        print(String(format: "{\"impl\":\"%@\",\"devices\":%d,\"nodes\":%d,\"populate_s\":%.6f,\"populate_ops_per_s\":%.1f,\"list_s\":%.6f,\"watch_rounds\":%d,\"watch_p50_us\":%.2f,\"watch_p99_us\":%.2f,\"watch_mean_us\":%.2f}",
                     impl, o.devices, o.nodes, p, Double(o.devices) / p, l, o.watchRounds, rank(0.5), rank(0.99), mean))
    }

    struct BenchError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}
