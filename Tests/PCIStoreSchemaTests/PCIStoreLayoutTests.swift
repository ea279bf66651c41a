import Testing
import PCIStoreSchema
import XenStore

@Suite struct PCIStoreLayoutTests {
    @Test func rootIsDom0OnlyUnderLocal() {
        #expect(PCIStoreLayout.root.rawValue == "/local/pci")
        #expect(PCIStoreLayout.rootPermissions.description == "n0")
        #expect(PCIStoreLayout.rootPermissions.access(for: try! DomID(5)) == XenStoreAccess.none)
    }
}
