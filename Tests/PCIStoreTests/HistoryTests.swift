import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// Each device keeps its last changes in one node, bounded, through every
/// operation and through dumps.
@Suite struct HistoryTests {
    @Test(arguments: Backend.allCases)
    func everyCommittedChangeIsOneEntryAndTheOldestFallOff(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        let a = sbdf("05:00.0")
        _ = try f.db.discover(sysfs: f.sysfs)
        _ = try f.db.assignableAdd([a], stub: .pciStub, sysfs: f.sysfs)
        _ = try f.db.assign([a], to: DomID(5), sysfs: f.sysfs)
        var ops = try f.record("05:00.0").history.entries.map(\.stamp.operation)
        // assignable-add commits twice (seizing, then assignable) with one stamp: one entry.
        #expect(ops == ["discover", "assignable-add", "assign"])
        let last = try #require(try f.record("05:00.0").history.entries.last), five = try DomID(5)
        #expect(last.state == .assigned && last.domain == five)
        for _ in 0..<4 {
            _ = try f.db.release([a], sysfs: f.sysfs)
            _ = try f.db.assign([a], to: DomID(6), sysfs: f.sysfs)
        }
        let r = try f.record("05:00.0")
        ops = r.history.entries.map(\.stamp.operation)
        #expect(ops.count == DeviceHistory.capacity)
        #expect(ops.last == "assign" && r.history.entries.last?.stamp == r.changed)
        // A device untouched keeps the one entry discovery gave it.
        #expect(try f.record("00:02.0").history.entries.map(\.stamp.operation) == ["discover"])
        let raw = try f.store.readString(PCIStoreLayout.node(a, "history"))
        #expect(raw.utf8.count < 2048 && raw.split(separator: " ").count == 8)
    }

    @Test func historyTravelsThroughBothDumpFormats() throws {
        let f = try PCIFixture(.engine)
        _ = try f.db.discover(sysfs: f.sysfs)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        let image = try f.db.read().image
        let json = DatabaseJSON.encode(Array(image.devices.values))
        let fromJSON = try DatabaseJSON.entries(fromJSON: Array(json.utf8))
        #expect(fromJSON.map(\.0) == image.entries.map(\.0))
        #expect(fromJSON.map(\.1) == image.entries.map(\.1))
        #expect(image.xenstoreText.contains("0000-05-00-0/history = \"2025-11-25T20:00:00Z/0/pcistore/discover/present/none "))
    }

    @Test(arguments: [
        "2026-11-25T20:00:00Z/0/pcistore/discover/present",            // five fields
        "2026-11-25T20:00:00Z/0/pcistore/discover/lost/none",           // no such state
        "2026-11-25T20:00:00Z/0/pcistore/assign/assigned/99999",        // not a domain
        "yesterday/0/pcistore/discover/present/none",                   // not a time
        "2026-11-25T20:00:00Z/0/pcistore/discover/present/none ",       // empty entry
    ])
    func garbageHistoryIsASchemaViolationWithItsPath(_ text: String) {
        #expect(throws: SchemaViolation.self) { try DeviceHistory(decoding: text, at: "/x/history") }
    }

    @Test func aNineEntryHistoryIsRefused() throws {
        let one = "2026-11-25T20:00:00Z/0/pcistore/discover/present/none"
        #expect(throws: SchemaViolation.self) { try DeviceHistory(decoding: Array(repeating: one, count: 9).joined(separator: " "), at: "/x") }
        #expect(try DeviceHistory(decoding: Array(repeating: one, count: 8).joined(separator: " "), at: "/x").entries.count == 8)
    }
}
