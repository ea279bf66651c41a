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

    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        var backend = "xenstored", devices = 4096, rounds = 500
        guard !args.isEmpty else { fail("usage: pci-bench populate|list|dump|assign-release [--backend B] [--devices N] [--rounds R]", 64) }
        let mode = args.removeFirst()
        while !args.isEmpty {
            let k = args.removeFirst()
            guard !args.isEmpty else { fail("\(k) needs a value", 64) }
            let v = args.removeFirst()
            switch k {
            case "--backend": backend = v
            case "--devices": devices = Int(v) ?? 0
            case "--rounds": rounds = Int(v) ?? 0
            default: fail("unknown option \(k)", 64)
            }
        }
        guard devices >= 1 && devices <= 65536 && rounds >= 1 else { fail("bad --devices or --rounds", 64) }
        do {
            let store: any XenStoreConnection
            let impl: String
            switch backend {
            case "xenstored": store = try LibXenStoreConnection(); impl = "swift-libxenstore"
            case "engine": store = XenStoreEngine().connect(); impl = "swift-engine"
            default: fail("unknown backend \(backend)", 64)
            }
            let db = PCIDatabase(store: store)
            let modes = mode == "all" ? ["populate", "list", "dump", "assign-release"] : [mode]
            for m in modes { try run(m, db, impl, devices: devices, rounds: rounds) }
        } catch {
            fail("\(error)")
        }
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
