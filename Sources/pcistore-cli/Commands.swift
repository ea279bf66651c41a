import ArgumentParser
import PCIStore
import PCIStoreSchema
import XenStore

struct Discover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the PCI bus from sysfs and record or refresh every device.",
        discussion: "Example: pcistore discover --sysfs /sys")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun

    func run() throws {
        try Output.guarded {
            let r = try global.database().discover(sysfs: sysfs.value, dryRun: dry.dryRun)
            Output.report(r, dryRun: dry.dryRun)
        }
    }
}

struct AssignableAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assignable-add",
        abstract: "Make devices assignable: remember their driver, hold them with a stub driver.",
        discussion: """
            The stub is pciback where it is loaded, else vfio-pci, else pci-stub, unless --stub says. \
            All the devices are seized or none: a failure gives every device back to its driver.

            Example: pcistore assignable-add --name nic0 0000:03:00.0
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @Option(help: "A unique name for the device (one device only).", transform: Parse.name) var name: DeviceName?
    @Option(help: "Stub driver: pciback, vfio-pci or pci-stub.", transform: Parse.driver) var stub: DriverName?
    @Argument(help: "PCI addresses (0000:03:00.0 or 03:00.0).", transform: Parse.address) var devices: [SBDF]

    func validate() throws {
        if devices.isEmpty { throw ValidationError("give at least one device") }
    }

    func run() throws {
        try Output.guarded {
            let s = sysfs.value
            let chosen = stub ?? [DriverName.pciback, .vfioPCI, .pciStub].first(where: s.isLoaded) ?? .pciStub
            let r = try global.database().assignableAdd(devices, name: name, stub: chosen, sysfs: s, dryRun: dry.dryRun)
            Output.report(r, dryRun: dry.dryRun)
        }
    }
}

struct AssignableRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assignable-remove",
        abstract: "Take a device out of the pool; with --rebind, give it back to its original driver.",
        discussion: "Refused while the device is assigned.\n\nExample: pcistore assignable-remove --rebind nic0")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @Flag(name: [.customShort("r"), .long], help: "Bind the driver it was taken from again.") var rebind = false
    @Option(help: "The device's name (instead of an address).") var name: String?
    @Argument(help: "PCI address or name.") var device: String?

    func validate() throws {
        if (name == nil) == (device == nil) { throw ValidationError("give one device: an address or --name") }
    }

    func run() throws {
        try Output.guarded {
            let db = try global.database()
            let a = try db.resolve(name ?? device!)
            Output.report(try db.assignableRemove(a, rebind: rebind, sysfs: sysfs.value, dryRun: dry.dryRun), dryRun: dry.dryRun)
        }
    }
}

struct Assign: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give assignable devices to a domain, with their whole slot and IOMMU group.",
        discussion: """
            Each device is reset first; the method is recorded. A slot or group is never split \
            unless --allow-split is given, and then the split is recorded on the device.

            Example: pcistore assign --domain 5 0000:03:00.0
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @Option(help: "The guest domain id, 1…32751.", transform: Parse.guest) var domain: DomID
    @Flag(help: "Assign only the named devices even if their slot or IOMMU group has others (recorded).") var allowSplit = false
    @Argument(help: "PCI addresses or names.") var devices: [String]

    func validate() throws {
        if devices.isEmpty { throw ValidationError("give at least one device") }
    }

    func run() throws {
        try Output.guarded {
            let db = try global.database()
            let targets = try devices.map { try db.resolve($0) }
            Output.report(try db.assign(targets, to: domain, allowSplit: allowSplit, sysfs: sysfs.value, dryRun: dry.dryRun), dryRun: dry.dryRun)
        }
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return assigned devices to the pool (reset, assignable again).",
        discussion: """
            Prints the resources recorded at assignment, which are what the guest held.

            Example: pcistore release 0000:03:00.0    or    pcistore release --domain 5
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @Option(help: "Release every device of this domain.", transform: Parse.guest) var domain: DomID?
    @Argument(help: "PCI addresses or names.") var devices: [String] = []

    func validate() throws {
        if devices.isEmpty == (domain == nil) { throw ValidationError("give devices or --domain, not both") }
    }

    func run() throws {
        try Output.guarded {
            let db = try global.database()
            let r = try domain.map { try db.release(domain: $0, sysfs: sysfs.value, dryRun: dry.dryRun) }
                ?? db.release(try devices.map { try db.resolve($0) }, sysfs: sysfs.value, dryRun: dry.dryRun)
            Output.report(r, dryRun: dry.dryRun)
            for d in r.devices { print("\(d.address) resources: \(d.resources.encoded)") }
        }
    }
}
