import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

@Suite struct LayoutScaleTests {
    /// A full segment: 256 buses × 32 slots × 8 functions, every one named.
    /// No directory of the layout may need more than one 4096-byte reply.
    @Test func everyDirectoryFitsOneReplyWithAFullSegment() throws {
        var children: [String: Set<String>] = [:]
        func add(_ p: XenStorePath) {
            var parts = p.rawValue.split(separator: "/").map(String.init)
            while parts.count > 2 {
                let name = parts.removeLast()
                children["/" + parts.joined(separator: "/"), default: []].insert(name)
            }
        }
        var n = 0
        for bus in 0...255 {
            for slot in 0..<32 {
                for fn in 0..<8 {
                    let a = try SBDF(segment: 0, bus: UInt8(bus), device: UInt8(slot), function: UInt8(fn))
                    add(PCIStoreLayout.device(a))
                    add(PCIStoreLayout.name(try DeviceName("device\(n)")))
                    n += 1
                }
            }
        }
        let leaves = DeviceRecord.nodeNames.reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(n == 65_536)
        let sizes = children.mapValues { $0.reduce(0) { $0 + $1.utf8.count + 1 } }
        let largest = sizes.max { $0.value < $1.value }!
        #expect(largest.value <= XenStoreLimits.payloadMax, "\(largest)")
        #expect(leaves <= XenStoreLimits.payloadMax)
        #expect(sizes["/local/pci/devices/0000/00"] == 256 * 13)
    }

    /// pyxs (no DIRECTORY_PART) lists and watches a 4,096-device database on
    /// the real xenstored.
    @Test func pythonDaemonsListAndWatchWithPyxs() async throws {
        let daemon = try RealXenStored.start()
        defer { daemon.stop() }
        var image = DatabaseImage()
        for i in 0..<4096 {
            let a = try SBDF(segment: 0, bus: UInt8(i / 64), device: UInt8(i % 64 / 2), function: UInt8(i % 2))
            image.devices[a] = DeviceRecord(
                address: a, identity: PCIIdentity(vendor: 0x8086, device: 0x10c9),
                topology: PCITopology(slotFunctions: [0, 1]), state: .assignable, originalDriver: try DriverName("igb"),
                stub: .pciback, changed: ChangeStamp(time: 1_764_100_800, operation: "restore"))
        }
        let db = PCIDatabase(store: try daemon.connect())
        _ = try db.restore(image.entries, replace: false)

        let script = RealXenStored.repositoryRoot + "/Tests/Interop/pyxs_reader.py"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [script, daemon.socketPath, "4096"]
        let out = Pipe()
        p.standardOutput = out
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("pyxs-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        let reader = out.fileHandleForReading
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        func watching() -> Bool {
            text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().contains { $0.hasPrefix("watching") }
        }
        while !watching() && Date() < deadline {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let summary = try JSONSerialization.jsonObject(with: Data(text.split(separator: "\n").first!.utf8)) as! [String: Any]
        #expect(summary["devices"] as? Int == 4096)
        #expect((summary["largest_directory_bytes"] as! Int) <= 4096)
        #expect(text.contains("watching /local/pci/devices"), "\(text) \(p.isRunning) \((try? String(contentsOf: errFile, encoding: .utf8)) ?? "")")
        _ = try db.assign([try SBDF("00:00.0")], to: DomID(3), sysfs: nil)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(text) \((try? String(contentsOf: errFile, encoding: .utf8)) ?? "")")
        #expect(text.contains("event /local/pci/devices/0000/00/0000-00-00-"))
        #expect(text.contains("/state assigned"))
    }
}
