import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// Boot manifests: what dom0less assigned, recorded without a sysfs.
@Suite struct ImportTests {
    static let example: [UInt8] = {
        let path = RealXenStored.repositoryRoot + "/schema/examples/dom0less-manifest.json"
        return Array(FileManager.default.contents(atPath: path)!)
    }()

    static func manifest(_ json: String) throws -> BootManifest {
        try BootManifest(json: Array(json.utf8), stamp: ChangeStamp(time: 1_764_100_800, operation: "import"))
    }

    @Test(arguments: Backend.allCases)
    func theExampleImportsOnceAndAgainChangesNothing(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        let m = try BootManifest(json: Self.example, stamp: f.db.actor.stamp("import"))
        let before = try f.tree()
        let dry = try f.db.importManifest(m, dryRun: true)
        let after = try f.tree()
        #expect(!dry.changes.isEmpty && after == before)
        let r = try f.db.importManifest(m)
        #expect(r.devices.map(\.address) == [sbdf("01:00.0"), sbdf("02:00.0"), sbdf("03:00.0")])
        let nic = try f.record("01:00.0"), one = try DomID(1)
        #expect(nic.state == .assigned && nic.domain == one && nic.stub == BootManifest.bootStub && nic.name?.rawValue == "nic0")
        #expect(nic.resources.bars.map(\.index) == [0, 3] && nic.resources.irq == 40 && nic.resources.msi)
        #expect(try f.record("03:00.0").state == .assignable)
        #expect(try f.db.read().violations.isEmpty)
        #expect(try f.db.importManifest(m).changes.isEmpty)
        // Released, a boot device goes back to the pool (no sysfs: no reset).
        _ = try f.db.release([sbdf("01:00.0")], sysfs: nil)
        #expect(try f.record("01:00.0").state == .assignable)
    }

    @Test func aDeviceRecordedOtherwiseRefusesTheWholeImport() throws {
        let f = try PCIFixture(.engine)
        _ = try f.db.discover(sysfs: f.sysfs)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let before = try f.tree()
        let m = try Self.manifest("""
            {"pcistore_manifest": 1, "devices": [
              {"address": "0000:07:00.0", "vendor": "8086", "device": "10d3", "domain": 3},
              {"address": "0000:05:00.0", "vendor": "8086", "device": "100e", "domain": 4}]}
            """)
        #expect(throws: PCIStoreError.self) { try f.db.importManifest(m) }
        let after = try f.tree()
        #expect(after == before)
        // A present device takes the manifest's facts.
        let ok = try Self.manifest("""
            {"pcistore_manifest": 1, "devices": [{"address": "0000:00:02.0", "vendor": "1af4", "device": "1000", "domain": 3}]}
            """)
        _ = try f.db.importManifest(ok)
        let three = try DomID(3)
        #expect(try f.record("00:02.0").domain == three)
        #expect(try f.record("00:02.0").history.entries.map(\.stamp.operation) == ["discover", "import"])
    }

    @Test(arguments: [
        ("{}", "pcistore_manifest is missing"),
        (#"{"pcistore_manifest": 2, "devices": []}"#, "this pcistore reads 1"),
        (#"{"pcistore_manifest": 1, "devices": [{"address": "03:00", "vendor": "8086", "device": "10d3"}]}"#, "devices[0].address"),
        (#"{"pcistore_manifest": 1, "devices": [{"address": "03:00.0", "vendor": "8086"}]}"#, "devices[0].device is missing"),
        (#"{"pcistore_manifest": 1, "devices": [{"address": "03:00.0", "vendor": "8086", "device": "10d3", "domain": 0}]}"#, "not a guest domain"),
        (#"{"pcistore_manifest": 1, "devices": [{"address": "03:00.0", "vendor": "8086", "device": "10d3"}, {"address": "0000-03-00-0", "vendor": "8086", "device": "10d3"}]}"#, "listed twice"),
        (#"{"pcistore_manifest": 1, "devices": [{"address": "03:00.0", "vendor": "8086", "device": "10d3", "bars": [{"index": 0, "kind": "mem9", "start": "0x0", "size": "0x1"}]}]}"#, "devices[0]/resources"),
        (#"{"pcistore_manifest": 1, "devices": [{"address": "03:00.0", "vendor": "8086", "device": "10d3", "name": "has space"}]}"#, "devices[0]/name"),
    ])
    func malformedManifestsSayWhereAndWhat(_ json: String, _ expected: String) {
        do {
            _ = try Self.manifest(json)
            Issue.record("accepted: \(json)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}
