import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport

@Suite struct SysfsTests {
    @Test func discoveryReadsWhatTheTreeSays() throws {
        let fake = try FakeSysfs.standardHost()
        let s = fake.sysfs()
        let all = try s.devices()
        #expect(all.map(\.description) == fake.devices.map(\.address.description).sorted())
        let a = try SBDF("03:00.1")
        let (id, topo, res) = try s.describe(a, among: all)
        #expect(id.vendor == 0x8086 && id.device == 0x10c9 && id.classCode == 0x020000)
        #expect(topo.slotFunctions == [0, 1])
        #expect(topo.iommuGroup == 7)
        #expect(topo.groupMembers.map(\.description) == ["0000:03:00.0", "0000:03:00.1"])
        #expect(res.bars == [PCIBar(index: 0, kind: .mem32, start: 0xfe02_0000, size: 0x2_0000)])
        #expect(res.msi && !res.msix && res.irq == 11)
        #expect(s.driver(of: a)?.rawValue == "igb")
        let (_, pfTopo, _) = try s.describe(try SBDF("06:00.0"), among: all)
        #expect(pfTopo.virtfns.map(\.description) == ["0000:06:10.0", "0000:06:10.2"])
        let (_, vfTopo, _) = try s.describe(try SBDF("06:10.2"), among: all)
        #expect(vfTopo.physfn?.description == "0000:06:00.0")
        let (_, _, virtio) = try s.describe(try SBDF("00:02.0"), among: all)
        #expect(virtio.bars.last == PCIBar(index: 4, kind: .mem64p, start: 0x40_0008_0000, size: 0x8_0000))
        #expect(s.resetMethods(try SBDF("05:00.0")) == nil)
        #expect(s.resetMethods(try SBDF("06:00.0")) == ["flr", "bus"])
    }

    @Test func theKernelStandInMovesDriversLikeTheDriverCore() throws {
        let fake = try FakeSysfs.standardHost()
        try fake.startKernel()
        let s = fake.sysfs()
        let a = try SBDF("03:00.0")
        try s.unbind(a, from: DriverName("igb"))
        #expect(s.driver(of: a) == nil)
        try s.setOverride(a, .pciStub)
        try s.probe(a, expecting: .pciStub)
        #expect(fake.driver(of: "0000:03:00.0") == "pci-stub")
        #expect(try s.reset(a) == "flr")
        try s.unbind(a, from: .pciStub)
        try s.setOverride(a, nil)
        try s.bind(a, to: DriverName("igb"))
        #expect(fake.log == ["unbind 0000:03:00.0 igb", "bind 0000:03:00.0 pci-stub", "reset 0000:03:00.0 flr",
                             "unbind 0000:03:00.0 pci-stub", "bind 0000:03:00.0 igb"])
    }

    @Test func aRefusedBindIsAnErrorNotASilentHalfState() throws {
        let fake = try FakeSysfs.standardHost()
        try fake.startKernel()
        try fake.refuse("vfio-pci")
        let s = fake.sysfs(settleTimeout: 0.2)
        let a = try SBDF("05:00.0")
        try s.unbind(a, from: DriverName("e1000"))
        try s.setOverride(a, .vfioPCI)
        #expect(throws: SysfsError.self) { try s.probe(a, expecting: .vfioPCI) }
        #expect(s.driver(of: a) == nil)
    }

    /// This machine's own PCI bus, read only: it has real virtio devices.
    @Test func readsTheRealBus() throws {
        let s = Sysfs()
        let all = try s.devices()
        #expect(!all.isEmpty)
        for a in all {
            let (id, topo, res) = try s.describe(a, among: all)
            #expect(id.vendor != 0xffff)
            #expect(topo.slotFunctions.contains(a.function))
            _ = res
        }
    }
}
