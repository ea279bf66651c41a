import Foundation
import Testing
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// The PCI verbs through the built binary, over a fake host whose kernel
/// stand-in runs, on the embedded file store and on a real xenstored.
struct HostCLI {
    let host: FakeSysfs
    let cli: CLI
    let daemon: RealXenStored?
    let served: ServeProcess?

    init(_ backend: Backend) throws {
        host = try FakeSysfs.standardHost()
        try host.startKernel()
        switch backend {
        case .engine:
            daemon = nil
            served = nil
            cli = CLI(store: CLI.temporaryStore(), extra: ["PCISTORE_SYSFS": host.root])
        case .xenstored:
            let d = try RealXenStored.start()
            daemon = d
            served = nil
            cli = CLI(store: "xenstore", extra: ["PCISTORE_SYSFS": host.root, "XENSTORED_PATH": d.socketPath])
        case .served:
            // pcistore as a libxenstore client of `pcistore serve`.
            let s = try ServeProcess()
            daemon = nil
            served = s
            cli = CLI(store: "xenstore", extra: ["PCISTORE_SYSFS": host.root, "XENSTORED_PATH": s.socketPath])
        }
    }

    func stop() {
        daemon?.stop()
        served?.stop()
    }

    /// A direct connection to the store the CLI uses (nil for the file store).
    func connect() throws -> (any XenStoreConnection)? {
        if let daemon { return try daemon.connect() }
        if let served { return try LibXenStoreConnection(socketPath: served.socketPath) }
        return nil
    }

    @discardableResult
    func callAsFunction(_ args: String...) throws -> CLI.Result { try cli.run(args) }
}

@Suite struct PCICommandTests {
    @Test(arguments: Backend.allCases)
    func lifeCycle(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        #expect(try h("discover").status == 0)
        let list = try h("list")
        #expect(list.out.split(separator: "\n").count == 10)
        #expect(list.out.hasPrefix("ADDRESS       NAME  STATE    DOMAIN  DRIVER         STUB  RESET\n"))
        #expect(try h("assignable-add", "--name", "nic0", "03:00.0", "03:00.1").status == 64)
        let add = try h("assignable-add", "--stub", "pci-stub", "03:00.0", "03:00.1")
        #expect(add.status == 0, "\(add.err)")
        #expect(h.host.driver(of: "0000:03:00.0") == "pci-stub")
        #expect(try h("assignable-list").out == "0000:03:00.0\n0000:03:00.1\n")
        let assign = try h("assign", "--domain", "5", "0000:03:00.0")
        #expect(assign.status == 0)
        #expect(assign.out.contains("0000:03:00.1 assigned domain 5 stub pci-stub reset flr"))
        let again = try h("assign", "--domain", "6", "03:00.1")
        #expect(again.status == 1)
        #expect(again.err == "pcistore: 0000:03:00.1 is assigned to domain 5\n")
        let shown = try h("show", "--json", "03:00.1")
        let doc = try JSONSerialization.jsonObject(with: Data(shown.out.utf8)) as! [String: Any]
        #expect(doc["state"] as? String == "assigned" && doc["domain"] as? Int == 5)
        #expect(try h("list", "--state", "assigned", "--domain", "5").out.split(separator: "\n").count == 3)
        let release = try h("release", "--domain", "5")
        #expect(release.status == 0)
        #expect(release.out.contains("0000:03:00.0 resources: irq=11 msi=1 msix=0 bar0=mem32:0x00000000fe000000+0x0000000000020000"))
        #expect(try h("assignable-remove", "-r", "03:00.0").status == 0)
        #expect(h.host.driver(of: "0000:03:00.0") == "igb")
        let check = try h("check", "--sysfs", h.host.root)
        #expect(check.status == 0, "\(check.out)")
    }

    @Test(arguments: Backend.allCases)
    func dumpRestoreAndCheckThroughTheBinary(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        try h("discover")
        try h("assignable-add", "--name", "gpu0", "04:00.0")
        try h("assignable-add", "04:00.1")
        try h("assign", "--domain", "3", "gpu0")
        let dump = try h("dump", "--format", "xenstore")
        let json = try h("dump")
        #expect(dump.status == 0 && json.status == 0)
        _ = try JSONSerialization.jsonObject(with: Data(json.out.utf8))
        for (i, text) in [dump.out, json.out].enumerated() {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("dump-\(UUID().uuidString)-\(i)").path
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let other = CLI(store: CLI.temporaryStore())
            let restored = try other.run(["restore", file])
            #expect(restored.status == 0, "\(restored.err)")
            #expect(try other.run(["dump", "--format", "xenstore"]).out == dump.out)
            #expect(try other.run(["restore", file]).status == 1)
        }
        // Someone else writes garbage: reads carry on and say where; check fails.
        let store = try h.connect()
        if let store {
            try store.write(PCIStoreLayout.node(try SBDF("00:02.0"), "resources"), "irq=\u{1}")
            let listed = try h("list")
            #expect(listed.status == 0)
            #expect(listed.err.contains("/local/pci/devices/0000/00/0000-00-02-0/resources"))
            let check = try h("check")
            #expect(check.status == 1)
            #expect(check.out.contains("0000-00-02-0/resources: expected irq=, msi=, msix= first") || check.out.contains("0000-00-02-0/resources"))
        }
    }

    @Test func badInputAtTheCommandLine() throws {
        let h = try HostCLI(.engine)
        try h("discover")
        for args in [["assign", "--domain", "32752", "03:00.0"], ["assign", "--domain", "x", "03:00.0"],
                     ["assignable-add", "03:00.9"], ["assignable-add", "--name", "bad name", "03:00.0"],
                     ["assignable-add", "--name", "none", "03:00.0"], ["show", "nonsense!"], ["show", "0000:99:00.0"],
                     ["list", "--state", "frozen"], ["release"], ["assignable-add", "--stub", "a/b", "03:00.0"]] {
            let r = try h.cli.run(args)
            #expect(r.status == 64, "\(args): \(r.status) \(r.err)")
            #expect(r.err.split(separator: "\n").count >= 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func dryRunPrintsThePlanAndChangesNothing(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        try h("discover")
        let before = try h("dump", "--format", "xenstore").out
        let r = try h("assignable-add", "--dry-run", "05:00.0")
        #expect(r.status == 0)
        #expect(r.out.contains("sysfs: write bus/pci/drivers/e1000/unbind = 0000:05:00.0"))
        #expect(r.out.contains("xenstore: write /local/pci/devices/0000/05/0000-05-00-0/state = \"seizing\""))
        #expect(try h("dump", "--format", "xenstore").out == before)
        #expect(h.host.driver(of: "0000:05:00.0") == "e1000")
    }

    /// Several processes assign overlapping sets to different domains at
    /// once; afterwards no device has two owners and no slot is split.
    @Test(arguments: Backend.allCases)
    func racingProcesses(_ backend: Backend) async throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        let devices = ["03:00.0", "03:00.1", "04:00.0", "04:00.1", "05:00.0", "06:10.0", "06:10.2"]
        #expect(try h.cli.run(["assignable-add", "--stub", "pciback"] + devices).status == 0)
        let cli = h.cli
        try await withThrowingTaskGroup(of: Void.self) { group in
            for domain in 1...4 {
                group.addTask {
                    for round in 0..<5 {
                        let pick = [devices[(domain + round) % devices.count], devices[(domain * 2 + round) % devices.count]]
                        let r = try cli.run(["assign", "--domain", String(domain)] + pick)
                        #expect(r.status == 0 || r.status == 1, "\(r.err)")
                        if round % 2 == 1 { _ = try cli.run(["release", "--domain", String(domain)]) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let check = try h("check", "--sysfs", h.host.root)
        #expect(check.status == 0, "\(check.out)")
        let doc = try JSONSerialization.jsonObject(with: Data(try h("dump").out.utf8)) as! [String: Any]
        let rows = doc["devices"] as! [[String: Any]]
        var owner: [String: Int] = [:]
        for r in rows { if let d = r["domain"] as? Int { owner[r["address"] as! String] = d } }
        for (a, b) in [("0000:03:00.0", "0000:03:00.1"), ("0000:04:00.0", "0000:04:00.1")] { #expect(owner[a] == owner[b]) }
    }

    /// SIGKILL at random points of seize, assign, release and rebind, many
    /// times: the next command finishes or rolls back what was left, and then
    /// `check` (records against the bus too) finds nothing wrong.
    @Test(arguments: Backend.allCases)
    func killedAtRandomPoints(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        try h("discover")
        var rng = SystemRandomNumberGenerator()
        let commands: [[String]] = [
            ["assignable-add", "--stub", "pci-stub", "03:00.0", "03:00.1", "05:00.0"],
            ["assign", "--domain", "7", "03:00.0"],
            ["release", "--domain", "7"],
            ["assignable-remove", "-r", "05:00.0"],
            ["assignable-remove", "-r", "03:00.0"],
            ["assignable-remove", "-r", "03:00.1"],
        ]
        var killed = 0
        for i in 0..<30 {
            let args = commands[i % commands.count]
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = args
            p.environment = h.cli.environment
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 0...40_000, using: &rng))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); killed += 1 }
            p.waitUntilExit()
            // The next command cleans up whatever was left.
            #expect(try h("discover").status == 0)
            let check = try h("check", "--sysfs", h.host.root)
            #expect(check.status == 0, "after killing `\(args.joined(separator: " "))`: \(check.out)")
        }
        #expect(killed > 0)
    }
}
