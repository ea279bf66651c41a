import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// Taking over a host that xl manages: what pciback holds plus what libxl
/// wrote under /libxl/pci, recorded without touching the bus.
@Suite struct AdoptTests {
    /// xl's side of `xl pci-assignable-add [-n NAME]` and `pci-attach`.
    static func xl(_ f: PCIFixture, _ a: String, driver: String?, name: String? = nil, domid: String? = nil) throws {
        try f.host.xlHold(a)
        let dir = "/libxl/pci/" + (try SBDF(a)).nodeName.rawValue
        try f.store.mkdir(try XenStorePath(dir))
        if let driver { try f.store.write(try XenStorePath(dir + "/driver_path"), "/sys/bus/pci/drivers/" + driver) }
        if let name { try f.store.write(try XenStorePath(dir + "/name"), name) }
        if let domid { try f.store.write(try XenStorePath(dir + "/domid"), domid) }
    }

    @Test(arguments: Backend.allCases)
    func adoptsWhatPcibackHoldsWithLibxlsDriverNameAndOwner(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        try Self.xl(f, "0000:05:00.0", driver: "e1000", name: "nic0")
        try Self.xl(f, "0000:03:00.0", driver: "igb", domid: "7")
        try Self.xl(f, "0000:03:00.1", driver: "igb", domid: "7")
        // What xl pci-assignable-remove leaves: an empty entry, device back on its driver.
        try f.store.mkdir(XenStorePath("/libxl/pci/0000-04-00-0"))
        let before = try f.tree()

        let dry = try f.db.adopt(sysfs: f.sysfs, dryRun: true)
        #expect(try f.tree() == before)
        #expect(dry.changes.contains(.write(PCIStoreLayout.node(sbdf("05:00.0"), "state"), "assignable")))

        let r = try f.db.adopt(sysfs: f.sysfs)
        #expect(r.devices.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1"), sbdf("05:00.0")])
        let nic = try f.record("05:00.0")
        #expect(nic.state == .assignable && nic.stub == .pciback && nic.originalDriver?.rawValue == "e1000")
        #expect(nic.name?.rawValue == "nic0" && nic.changed.operation == "adopt")
        let igb = try f.record("03:00.1"), seven = try DomID(7)
        #expect(igb.state == .assigned && igb.domain == seven && igb.originalDriver?.rawValue == "igb")
        #expect(try f.record("04:00.0").state == .present)
        #expect(r.notes.contains { $0.contains("0000-04-00-0 is empty") })
        // Nothing moved on the bus.
        #expect(f.host.driver(of: "0000:05:00.0") == "pciback")
        #expect(try f.db.check(sysfs: f.sysfs, repair: false).problems.isEmpty)
        // Again: nothing to do.
        let again = try f.db.adopt(sysfs: f.sysfs)
        #expect(again.changes.isEmpty)
        // And it gives back as if pcistore had seized it.
        _ = try f.db.assignableRemove(sbdf("05:00.0"), rebind: true, sysfs: f.sysfs)
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
    }

    @Test(arguments: [Backend.engine, .xenstored])
    func garbageFromLibxlIsReportedNotTrusted(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        try Self.xl(f, "0000:05:00.0", driver: "bad driver!", name: "no spaces allowed", domid: "0")
        try f.store.write(XenStorePath("/libxl/pci/garbage/domid"), "x")
        let r = try f.db.adopt(sysfs: f.sysfs)
        let nic = try f.record("05:00.0")
        // The driver pcistore saw at discovery stands when libxl's does not parse.
        #expect(nic.state == .assignable && nic.originalDriver?.rawValue == "e1000" && nic.name == nil && nic.domain == nil)
        for fragment in ["/libxl/pci/garbage is not a device address", "driver_path", "not a valid name", "not a guest domain"] {
            #expect(r.notes.contains { $0.contains(fragment) }, "\(fragment): \(r.notes)")
        }
    }

    @Test func aDeviceRecordedOtherwiseIsReportedAndLeftAlone() throws {
        let f = try PCIFixture(.engine)
        _ = try f.db.discover(sysfs: f.sysfs)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .vfioPCI, sysfs: f.sysfs)
        try f.store.write(XenStorePath("/libxl/pci/0000-05-00-0/driver_path"), "/sys/bus/pci/drivers/e1000")
        // pciback does not hold it: libxl's entry alone adopts nothing.
        let r = try f.db.adopt(sysfs: f.sysfs)
        #expect(r.changes.isEmpty)
        #expect(r.notes.contains { $0.contains("which pciback does not hold") })
        #expect(try f.record("05:00.0").stub == .vfioPCI)
    }
}
