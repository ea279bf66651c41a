import ArgumentParser
import PCIStore
import PCIStoreSchema
import XenStore

struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the PCI bus from sysfs and record or refresh every device.",
        discussion: """
            Buses a registered agent serves are not read here: each agent is asked to read its bus \
            again, and what it publishes is recorded (--cached: what it published last).

            Example: pcistore discover --sysfs /sys
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @OptionGroup var wait: AgentWaitOptions
    @Flag(help: "Record what the agents published last, without asking them to read their bus again.") var cached = false

    func run() async throws {
        try await Output.guarded {
            let db = try global.database()
            let report = try await db.discoverEverywhere(sysfs: sysfs.value, agent: { wait.client(db, $0) }, refresh: !cached,
                                                         requestID: wait.requestId, dryRun: dry.dryRun)
            Output.report(report, dryRun: dry.dryRun)
        }
    }
}

struct AssignableAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assignable-add",
        abstract: "Make devices assignable: remember their driver, hold them with a stub driver.",
        discussion: """
            The stub is pciback where it is loaded, else vfio-pci, else pci-stub, unless --stub says. \
            All the devices are seized or none: a failure gives every device back to its driver. \
            Devices on a bus an agent serves are seized by the agent (the stub then defaults to the \
            first of those that is loaded there).

            Example: pcistore assignable-add --name nic0 0000:03:00.0
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun
    @Option(help: "A unique name for the device (one device only).", transform: Parse.name) var name: DeviceName?
    @Option(help: "Stub driver: pciback, vfio-pci or pci-stub.", transform: Parse.driver) var stub: DriverName?
    @Argument(help: "PCI addresses (0000:03:00.0 or 03:00.0).", transform: Parse.address) var devices: [SBDF]
    @OptionGroup var wait: AgentWaitOptions

    func validate() throws {
        if devices.isEmpty { throw ValidationError("give at least one device") }
    }

    func run() async throws {
        try await Output.guarded {
            let db = try global.database()
            let r: Report
            if let d = try db.agentOwning(devices) {
                let agent = wait.client(db, d)
                let loaded = try agent.published()?.stubs ?? []
                r = try await db.assignableAdd(devices, name: name, stub: Output.stub(stub, loaded: loaded.contains), agent: agent,
                                               requestID: wait.requestId, dryRun: dry.dryRun)
            } else {
                let s = sysfs.value
                r = try db.assignableAdd(devices, name: name, stub: Output.stub(stub, loaded: s.isLoaded), sysfs: s, dryRun: dry.dryRun)
            }
            Output.report(r, dryRun: dry.dryRun)
        }
    }
}

struct AssignableRemove: AsyncParsableCommand {
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
    @OptionGroup var wait: AgentWaitOptions

    func validate() throws {
        if (name == nil) == (device == nil) { throw ValidationError("give one device: an address or --name") }
    }

    func run() async throws {
        try await Output.guarded {
            let db = try global.database()
            let a = try db.resolve(name ?? device!)
            if rebind, let d = try db.agentOwning([a]) {
                Output.report(try await db.assignableRemove(a, agent: wait.client(db, d), requestID: wait.requestId, dryRun: dry.dryRun),
                              dryRun: dry.dryRun)
            } else {
                Output.report(try db.assignableRemove(a, rebind: rebind, sysfs: sysfs.value, dryRun: dry.dryRun), dryRun: dry.dryRun)
            }
        }
    }
}

struct Assign: AsyncParsableCommand {
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
    @OptionGroup var wait: AgentWaitOptions

    func validate() throws {
        if devices.isEmpty { throw ValidationError("give at least one device") }
    }

    func run() async throws {
        try await Output.guarded {
            let db = try global.database()
            let targets = try devices.map { try db.resolve($0) }
            let r: Report
            if let d = try db.agentOwning(targets) {
                r = try await db.assign(targets, to: domain, allowSplit: allowSplit, agent: wait.client(db, d),
                                        requestID: wait.requestId, dryRun: dry.dryRun)
            } else {
                r = try db.assign(targets, to: domain, allowSplit: allowSplit, sysfs: sysfs.value, dryRun: dry.dryRun)
            }
            Output.report(r, dryRun: dry.dryRun)
        }
    }
}

struct Release: AsyncParsableCommand {
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
    @OptionGroup var wait: AgentWaitOptions

    func validate() throws {
        if devices.isEmpty == (domain == nil) { throw ValidationError("give devices or --domain, not both") }
    }

    func run() async throws {
        try await Output.guarded {
            let db = try global.database()
            let r = try await db.releaseEverywhere(try devices.map { try db.resolve($0) }, domain: domain, sysfs: sysfs.value,
                                                   agent: { wait.client(db, $0) }, requestID: wait.requestId, dryRun: dry.dryRun)
            Output.report(r, dryRun: dry.dryRun)
            for d in r.devices { print("\(d.address) resources: \(d.resources.encoded)") }
        }
    }
}
