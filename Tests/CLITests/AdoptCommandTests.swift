import Foundation
import Testing
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

@Suite struct AdoptCommandTests {
    @Test(arguments: Backend.allCases)
    func adoptShowsThenRecordsWhatXlHolds(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        #expect(try h("discover").status == 0)
        try h.host.xlHold("0000:05:00.0")
        let store = try h.storeConnection()
        try store.write(XenStorePath("/libxl/pci/0000-05-00-0/driver_path"), "/sys/bus/pci/drivers/e1000")
        try store.write(XenStorePath("/libxl/pci/0000-05-00-0/name"), "nic0")
        store.close()

        let dry = try h("adopt", "--dry-run")
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("xenstore: write /local/pci/devices/0000/05/0000-05-00-0/stub = \"pciback\""), "\(dry.out)")
        #expect(try h.shown("05:00.0")["state"] as? String == "present")

        let r = try h("adopt")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("adopted 0000:05:00.0 assignable, to give back to e1000, name nic0"), "\(r.out)")
        let listed = try h("assignable-list")
        #expect(listed.out.contains("0000:05:00.0"), "\(listed.out)")
        #expect(try h("check").status == 0)
        #expect(try h("assignable-remove", "--rebind", "nic0").status == 0)
        #expect(h.host.driver(of: "0000:05:00.0") == "e1000")
    }
}
