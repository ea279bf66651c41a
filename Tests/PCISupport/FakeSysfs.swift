import Foundation
import PCIStore
import PCIStoreSchema

/// A sysfs tree under a temp dir that looks like the kernel's for PCI (the
/// files pcistore reads, the control files it writes), with `fake-pci-kernel`
/// running over it to react to writes the way the driver core does.
///
/// Nothing here touches the machine's real devices.
public final class FakeSysfs: @unchecked Sendable {
    public struct Device: Sendable {
        public var address: SBDF
        public var vendor: UInt16
        public var device: UInt16
        public var classCode: UInt32 = 0x020000
        public var irq: UInt32 = 11
        public var numa: Int = -1
        public var bars: [PCIBar] = []
        public var msi = true
        public var msix = false
        public var driver: String?
        /// nil: no `reset` file at all (the device cannot be reset).
        public var resetMethods: [String]? = ["flr"]
        public var iommuGroup: UInt32?
        public var physfn: SBDF?

        public init(_ address: String, vendor: UInt16, device: UInt16, driver: String?, group: UInt32? = nil,
                    reset: [String]? = ["flr"], bars: [PCIBar] = [], physfn: String? = nil) {
            self.address = try! SBDF(address)
            self.vendor = vendor
            self.device = device
            self.driver = driver
            self.iommuGroup = group
            self.resetMethods = reset
            self.bars = bars
            self.physfn = physfn.map { try! SBDF($0) }
        }
    }

    public struct Driver: Sendable {
        public var name: String
        /// "vvvv:dddd" the driver binds to on its own; stubs have none.
        public var ids: [String]
        public init(_ name: String, ids: [String] = []) {
            self.name = name
            self.ids = ids
        }
    }

    public let root: String
    public let devices: [Device]
    private var kernel: Process?

    public init(devices: [Device], drivers: [Driver]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-sysfs-\(UUID().uuidString.prefix(8))").path
        self.devices = devices
        try build(drivers)
    }

    deinit {
        stopKernel()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A small host with every shape the rules care about:
    /// - 00:02.0 virtio-net, alone;
    /// - 03:00.0/.1 a two-function igb slot, IOMMU group 7;
    /// - 04:00.0 GPU + 04:00.1 its audio function, group 9, bus reset only;
    /// - 05:00.0 an e1000 with no reset method at all, group 10;
    /// - 06:00.0 an SR-IOV PF with VFs 06:10.0 and 06:10.2, each in its own group.
    public static func standardHost() throws -> FakeSysfs {
        let bar64 = PCIBar(index: 0, kind: .mem64p, start: 0x40_0008_0000, size: 0x8_0000)
        return try FakeSysfs(devices: [
            Device("0000:00:02.0", vendor: 0x1af4, device: 0x1000, driver: "virtio-pci", group: 1, reset: nil,
                   bars: [PCIBar(index: 0, kind: .io, start: 0xc040, size: 0x20), PCIBar(index: 4, kind: .mem64p, start: 0x40_0008_0000, size: 0x8_0000)]),
            Device("0000:03:00.0", vendor: 0x8086, device: 0x10c9, driver: "igb", group: 7,
                   bars: [PCIBar(index: 0, kind: .mem32, start: 0xfe00_0000, size: 0x2_0000)]),
            Device("0000:03:00.1", vendor: 0x8086, device: 0x10c9, driver: "igb", group: 7,
                   bars: [PCIBar(index: 0, kind: .mem32, start: 0xfe02_0000, size: 0x2_0000)]),
            Device("0000:04:00.0", vendor: 0x10de, device: 0x1eb8, driver: "nouveau", group: 9, reset: ["bus"], bars: [bar64]),
            Device("0000:04:00.1", vendor: 0x10de, device: 0x10f8, driver: "snd_hda_intel", group: 9, reset: ["bus"]),
            Device("0000:05:00.0", vendor: 0x8086, device: 0x100e, driver: "e1000", group: 10, reset: nil),
            Device("0000:06:00.0", vendor: 0x8086, device: 0x10fb, driver: "ixgbe", group: 13, reset: ["flr", "bus"]),
            Device("0000:06:10.0", vendor: 0x8086, device: 0x10ed, driver: "ixgbevf", group: 11, physfn: "0000:06:00.0"),
            Device("0000:06:10.2", vendor: 0x8086, device: 0x10ed, driver: "ixgbevf", group: 12, physfn: "0000:06:00.0"),
        ], drivers: [
            Driver("virtio-pci", ids: ["1af4:1000"]), Driver("igb", ids: ["8086:10c9"]), Driver("nouveau", ids: ["10de:1eb8"]),
            Driver("snd_hda_intel", ids: ["10de:10f8"]), Driver("e1000", ids: ["8086:100e"]), Driver("ixgbe", ids: ["8086:10fb"]),
            Driver("ixgbevf", ids: ["8086:10ed"]), Driver("pci-stub"), Driver("vfio-pci"), Driver("pciback"),
        ])
    }

    public func sysfs(settleTimeout: Double = 2.0) -> Sysfs { Sysfs(root: root, settleTimeout: settleTimeout) }

    // MARK: - The kernel stand-in

    /// Starts `fake-pci-kernel` over the tree and waits until it watches.
    public func startKernel() throws {
        guard kernel == nil else { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("fake-pci-kernel")
        p.arguments = [root]
        try p.run()
        kernel = p
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: root + "/.fake-kernel/ready") {
            guard Date() < deadline, p.isRunning else { throw SysfsError(path: root, "fake-pci-kernel did not start") }
            usleep(2000)
        }
    }

    public func stopKernel() {
        if let k = kernel, k.isRunning { k.terminate(); k.waitUntilExit() }
        kernel = nil
    }

    /// What the kernel stand-in did, one action a line (`bind 0000:03:00.0 pci-stub`).
    public var log: [String] {
        ((try? String(contentsOfFile: root + "/.fake-kernel/log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The log once `done` holds for it (the stand-in acts a moment after a
    /// write, and nothing waits for a reset), or as it is after `seconds`.
    public func log(waitingUntil done: ([String]) -> Bool, seconds: Double = 10) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var now = log
        while !done(now) && Date() < deadline {
            usleep(2000)
            now = log
        }
        return now
    }

    /// Makes `driver` refuse every device from now on.
    public func refuse(_ driver: String) throws {
        let path = root + "/.fake-kernel/refuse"
        let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        try (old + driver + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Unloads a driver (its directory goes), as `rmmod` would for an unused one.
    public func unload(_ driver: String) throws {
        try FileManager.default.removeItem(atPath: root + "/bus/pci/drivers/" + driver)
    }

    /// What `xl pci-assignable-add` does to the bus (libxl's
    /// `pciback_dev_assign`): the device goes into pciback's slots, off its
    /// driver, onto pciback. Waits until the kernel stand-in has bound it.
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    public func xlHold(_ a: String) throws {
        let pci = root + "/bus/pci"
        let slots = pci + "/drivers/pciback/slots"
        let old = (try? String(contentsOfFile: slots, encoding: .utf8)) ?? ""
        try (old + a + "\n").write(toFile: slots, atomically: true, encoding: .utf8)
        try "pciback".write(toFile: pci + "/devices/\(a)/driver_override", atomically: false, encoding: .utf8)
        if let d = driver(of: a) { try a.write(toFile: pci + "/drivers/\(d)/unbind", atomically: false, encoding: .utf8) }
        for _ in 0..<2000 where driver(of: a) != nil { usleep(5000) }
        try a.write(toFile: pci + "/drivers/pciback/bind", atomically: false, encoding: .utf8)
        for _ in 0..<2000 where driver(of: a) != "pciback" { usleep(5000) }
        guard driver(of: a) == "pciback" else { throw Failure(description: "\(a) did not bind to pciback") }
    }

    /// Sets one attribute file of a device (`irq`, `numa_node`, …), as the
    /// kernel would after a change of the device's resources.
    public func set(_ a: String, _ attribute: String, _ value: String) throws {
        try (value + "\n").write(toFile: root + "/bus/pci/devices/\(a)/\(attribute)", atomically: false, encoding: .utf8)
    }

    /// Takes a device off the bus, as a hot unplug does: it is no longer listed.
    public func unplug(_ a: String) throws {
        try FileManager.default.removeItem(atPath: root + "/bus/pci/devices/" + a)
    }

    public func driver(of a: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/bus/pci/devices/\(a)/driver"))
            .map { URL(fileURLWithPath: $0).lastPathComponent }
    }

    // MARK: - Building the tree

    private func build(_ drivers: [Driver]) throws {
        let fm = FileManager.default
        func mkdir(_ p: String) throws { try fm.createDirectory(atPath: p, withIntermediateDirectories: true) }
        func put(_ p: String, _ s: String) throws { try s.write(toFile: p, atomically: false, encoding: .utf8) }
        func hex(_ v: UInt64, _ w: Int) -> String {
            let s = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, w - s.count)) + s
        }
        try mkdir(root + "/.fake-kernel")
        try mkdir(root + "/bus/pci/devices")
        try put(root + "/bus/pci/drivers_probe", "")
        for d in drivers {
            let dir = root + "/bus/pci/drivers/" + d.name
            try mkdir(dir)
            for f in ["bind", "unbind", "new_id", "remove_id"] { try put(dir + "/" + f, "") }
            try put(dir + "/ids", d.ids.joined(separator: "\n") + "\n")
        }
        for d in devices {
            let bdf = d.address.description
            let dir = root + "/devices/pci\(hex(UInt64(d.address.segment), 4).dropFirst(2)):00/" + bdf
            try mkdir(dir)
            try fm.createSymbolicLink(atPath: root + "/bus/pci/devices/" + bdf, withDestinationPath: "../../../devices/pci\(hex(UInt64(d.address.segment), 4).dropFirst(2)):00/" + bdf)
            try put(dir + "/vendor", hex(UInt64(d.vendor), 4) + "\n")
            try put(dir + "/device", hex(UInt64(d.device), 4) + "\n")
            try put(dir + "/subsystem_vendor", hex(UInt64(d.vendor), 4) + "\n")
            try put(dir + "/subsystem_device", "0x0001\n")
            try put(dir + "/class", hex(UInt64(d.classCode), 6) + "\n")
            try put(dir + "/revision", "0x01\n")
            try put(dir + "/irq", "\(d.irq)\n")
            try put(dir + "/numa_node", "\(d.numa)\n")
            try put(dir + "/driver_override", "(null)\n")
            if let r = d.resetMethods {
                try put(dir + "/reset", "")
                if !r.isEmpty { try put(dir + "/reset_method", r.joined(separator: " ") + "\n") }
            }
            var lines: [String] = []
            for i in 0..<13 {
                if let b = d.bars.first(where: { Int($0.index) == i }) {
                    let flags: UInt64 = switch b.kind {
                    case .io: 0x40101
                    case .mem32: 0x40200
                    case .mem32p: 0x42208
                    case .mem64: 0x140204
                    case .mem64p: 0x14220c
                    }
                    lines.append("\(hex(b.start, 16)) \(hex(b.start + b.size - 1, 16)) \(hex(flags, 16))")
                } else {
                    lines.append("\(hex(0, 16)) \(hex(0, 16)) \(hex(0, 16))")
                }
            }
            try put(dir + "/resource", lines.joined(separator: "\n") + "\n")
            var config = [UInt8](repeating: 0, count: 256)
            config[0] = UInt8(d.vendor & 0xff); config[1] = UInt8(d.vendor >> 8)
            config[2] = UInt8(d.device & 0xff); config[3] = UInt8(d.device >> 8)
            config[6] = 0x10
            config[0x34] = 0x40
            var at = 0x40
            for (present, id) in [(d.msi, UInt8(0x05)), (d.msix, UInt8(0x11))] where present {
                config[at] = id
                config[at + 1] = UInt8(at + 0x10)
                at += 0x10
            }
            if at > 0x40 { config[at - 0x10 + 1] = 0 } else { config[6] = 0 }
            try Data(config).write(to: URL(fileURLWithPath: dir + "/config"))
            if let g = d.iommuGroup {
                let gdir = root + "/kernel/iommu_groups/\(g)/devices"
                try mkdir(gdir)
                try fm.createSymbolicLink(atPath: gdir + "/" + bdf, withDestinationPath: "../../../../bus/pci/devices/" + bdf)
                try fm.createSymbolicLink(atPath: dir + "/iommu_group", withDestinationPath: "../../../kernel/iommu_groups/\(g)")
            }
            if let pf = d.physfn {
                try fm.createSymbolicLink(atPath: dir + "/physfn", withDestinationPath: "../" + pf.description)
                let pfDir = root + "/bus/pci/devices/" + pf.description
                let n = (try fm.contentsOfDirectory(atPath: pfDir)).filter { $0.hasPrefix("virtfn") }.count
                try fm.createSymbolicLink(atPath: pfDir + "/virtfn\(n)", withDestinationPath: "../" + bdf)
            }
            if let drv = d.driver {
                try fm.createSymbolicLink(atPath: dir + "/driver", withDestinationPath: "../../../bus/pci/drivers/" + drv)
                try fm.createSymbolicLink(atPath: root + "/bus/pci/drivers/\(drv)/" + bdf, withDestinationPath: "../../devices/" + bdf)
            }
        }
    }
}
