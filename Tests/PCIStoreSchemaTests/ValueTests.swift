import Testing
@testable import PCIStoreSchema
import XenStore
import XenStoreTestSupport

@Suite struct AddressAndNameTests {
    @Test(arguments: [
        ("0000:03:00.0", "0000:03:00.0", "0000-03-00-0"), ("03:00.1", "0000:03:00.1", "0000-03-00-1"),
        ("0000-0a-1f-7", "0000:0a:1f.7", "0000-0a-1f-7"), ("ABCD:EF:1F.3", "abcd:ef:1f.3", "abcd-ef-1f-3"),
    ])
    func parsesEveryForm(_ text: String, _ bdf: String, _ node: String) throws {
        let a = try SBDF(text)
        #expect(a.description == bdf)
        #expect(a.nodeName.rawValue == node)
        #expect(try SBDF(a.nodeName.rawValue) == a)
    }

    @Test(arguments: ["", "03:00", "0000:03:20.0", "0000:03:00.8", "0:03:00.0", "0000:3:00.0", "0000:03:00.0 ",
                      "00000:03:00.0", "0000-03-00", "g000:03:00.0", "0000:03:00.-1", "nic0", "0000:03:00:0"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: SchemaViolation.self) { try SBDF(text) }
    }

    @Test func names() throws {
        #expect(try DeviceName("nic0").rawValue == "nic0")
        #expect(try DeviceName("GPU_left-1").rawValue == "GPU_left-1")
        for bad in ["", "0nic", "none", "a b", "a;rm", "a/b", "a.b", "$x", String(repeating: "a", count: 33), "é"] {
            #expect(throws: SchemaViolation.self, "\(bad)") { try DeviceName(bad) }
        }
    }

    @Test func timestampsRoundTrip() {
        for t: Int64 in [0, 1, 86399, 951_782_400, 1_764_100_800, 4_102_444_800] {
            #expect(ChangeStamp.parseRFC3339(ChangeStamp.rfc3339(t)) == t)
        }
        #expect(ChangeStamp.rfc3339(1_764_100_800) == "2025-11-25T20:00:00Z")
        #expect(ChangeStamp.parseRFC3339("2025-02-30T00:00:00Z") == nil)
        #expect(ChangeStamp.parseRFC3339("2025-11-25 20:00:00Z") == nil)
    }

    @Test func resourcesKeepFull64BitValues() throws {
        let r = PCIResources(bars: [PCIBar(index: 4, kind: .mem64p, start: 0xffff_ffff_ffff_0000, size: 0x1_0000_0000)], irq: 0)
        let back = try PCIResources(decoding: r.encoded, at: "/x")
        #expect(back.bars.first?.start == 0xffff_ffff_ffff_0000)
        #expect(back.bars.first?.size == 0x1_0000_0000)
    }

    @Test(arguments: [
        "", "irq=1", "irq=x msi=0 msix=0", "irq=1 msi=2 msix=0", "irq=1 msi=0 msix=0 bar6=io:0x0000000000000000+0x0000000000000001",
        "irq=1 msi=0 msix=0 bar0=io:0x0+0x1", "irq=1 msi=0 msix=0 bar0=mem16:0x0000000000000000+0x0000000000000001",
        "irq=1 msi=0 msix=0 bar2=io:0x0000000000000000+0x0000000000000001 bar1=io:0x0000000000000000+0x0000000000000001",
        "irq=1 msi=0 msix=0 bar0=io:0x0000000000000000+0x0000000000000000", "irq=01 msi=0 msix=0",
    ])
    func garbageResourcesAreViolations(_ text: String) {
        #expect(throws: SchemaViolation.self) { try PCIResources(decoding: text, at: "/local/pci/x/resources") }
    }

    @Test func recordProblems() throws {
        let a = try SBDF("03:00.0")
        var r = DeviceRecord(address: a, identity: PCIIdentity(vendor: 1, device: 2), state: .assigned,
                             changed: ChangeStamp(time: 0, operation: "assign"))
        #expect(r.problems.contains { $0.contains("domain none") })
        #expect(r.problems.contains { $0.contains("no stub") })
        r.domain = .dom0
        r.stub = .pciback
        #expect(r.problems == ["assigned to dom0"])
        r.domain = try DomID(3)
        #expect(r.problems.isEmpty)
    }

    @Test func garbageInAnyNodeIsAViolationNeverATrap() throws {
        var rng = SplitMix(state: 5)
        let r = Generate.record(&rng)
        let nodes = Dictionary(uniqueKeysWithValues: r.nodes.map { ($0.0.rawValue, $0.1) })
        for key in nodes.keys {
            for _ in 0..<50 {
                var broken = nodes
                var bytes = Array(broken[key]!.utf8)
                if bytes.isEmpty { bytes = [0] }
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                broken[key] = String(decoding: bytes, as: UTF8.self)
                _ = try? DeviceRecord(address: r.address, nodes: broken, at: "/d")
            }
            var missing = nodes
            missing[key] = nil
            if !DeviceRecord.optionalNodeNames.contains(key) {
                #expect(throws: SchemaViolation.self) { try DeviceRecord(address: r.address, nodes: missing, at: "/d") }
            }
        }
    }
}
