import Foundation
import Testing
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// `pcistore agent` running as its own process, and the toolstack's commands
/// sending it requests: on the embedded file store (both sides dom0 there)
/// and on the real xenstored.
@Suite struct AgentCommandTests {
    static let backends: [Backend] = [.engine, .xenstored]

    /// A `pcistore agent --domain 7` process and what it printed.
    final class AgentProcess {
        let process = Process()
        let lines = DaemonCommandTests.Lines(), errors = DaemonCommandTests.Lines()
        private let out = Pipe(), err = Pipe()

        init(_ h: HostCLI, extra: [String] = []) throws {
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["agent", "--domain", "7", "--heartbeat", "0.2"] + extra
            process.environment = h.cli.environment
            process.standardOutput = out
            process.standardError = err
            lines.attach(out)
            errors.attach(err)
            try process.run()
            #expect(lines.wait { $0.contains { $0.hasPrefix("serving buses") } }, "\(errors.all)")
        }

        /// SIGTERM, and the exit status once it ended.
        func stop() -> Int32? {
            process.terminate()
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < deadline { usleep(5000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return nil }
            out.fileHandleForReading.readabilityHandler = nil
            err.fileHandleForReading.readabilityHandler = nil
            return process.terminationReason == .exit ? process.terminationStatus : nil
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    /// Registered for domain 7 (introduced into the store first).
    static func registered(_ backend: Backend) throws -> (HostCLI, any XenStoreConnection) {
        let h = try HostCLI(backend)
        let store = try h.storeConnection()
        try store.introduceDomain(DomID(7))
        let r = try h("agent-register", "--domain", "7")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasSuffix("agent 7: buses=all slots=16 pages=\(AgentLayout.defaultPages)\n"))
        return (h, store)
    }

    @Test(arguments: backends)
    func theToolstacksCommandsGoThroughTheAgent(_ backend: Backend) throws {
        let (h, _) = try Self.registered(backend)
        defer { h.stop() }
        let agent = try AgentProcess(h)
        let d = try h("discover")
        #expect(d.status == 0, "\(d.err)")
        #expect(d.out.contains("found 0000:03:00.0 (igb) on agent 7"))
        #expect(try h("list").out.split(separator: "\n").count == 10)

        let before = try h("dump", "--format", "xenstore").out
        let dry = try h("assignable-add", "--dry-run", "03:00.0", "03:00.1")
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("  xenstore: write /local/pci/devices/0000/03/0000-03-00-0/state = \"seizing\"\n"))
        #expect(dry.out.contains("  agent 7: seize 0000:03:00.0 0000:03:00.1 for pciback\n"))
        #expect(dry.out.contains("  xenstore: write /local/pci/devices/0000/03/0000-03-00-1/state = \"assignable\"\n"))
        #expect(try h("dump", "--format", "xenstore").out == before)

        let add = try h("assignable-add", "03:00.0", "03:00.1")
        #expect(add.status == 0, "\(add.err)")
        #expect(add.out.contains("0000:03:00.0 assignable stub pciback"))
        #expect(h.host.driver(of: "0000:03:00.0") == "pciback")
        let assign = try h("assign", "--domain", "5", "03:00.0")
        #expect(assign.status == 0, "\(assign.err)")
        #expect(assign.out.contains("0000:03:00.1 assigned domain 5 stub pciback reset flr"))
        let release = try h("release", "03:00.0")
        #expect(release.status == 0 && release.out.contains("0000:03:00.0 resources: irq=11 msi=1 msix=0 bar0=mem32:"), "\(release.err)")
        let back = try h("assignable-remove", "-r", "03:00.0")
        #expect(back.status == 0 && back.out.contains("0000:03:00.0 present"), "\(back.err)")
        #expect(h.host.driver(of: "0000:03:00.0") == "igb")

        let list = try h("agent-list")
        #expect(list.out.hasPrefix("agent 7: buses all, 0/16 slots in use, \(AgentLayout.defaultPages) pages\n  heartbeat: seq="))
        #expect(list.out.contains("  published: generation="))
        let check = try h("check")
        #expect(check.status == 0 && check.out == "9 devices, 0 problems\n", "\(check.out)")
        #expect(agent.stop() == 0, "\(agent.errors.all)")
        #expect(agent.lines.all.contains { $0.hasPrefix("answered ") && $0.hasSuffix(" seize 0000:03:00.0 0000:03:00.1: done (igb,igb)") })
        #expect(agent.errors.all.isEmpty, "\(agent.errors.all)")
        #expect(try h("agent-list").out.contains(" state=stopped\n"))
    }

    /// Every command's --dry-run says what it would ask the agent and write,
    /// and sends nothing.
    @Test func dryRunsSendNothing() throws {
        let (h, _) = try Self.registered(.engine)
        defer { h.stop() }
        let agent = try AgentProcess(h)
        #expect(try h("discover").status == 0)
        #expect(try h("assignable-add", "03:00.0", "03:00.1", "05:00.0").status == 0)
        #expect(try h("assign", "--domain", "5", "05:00.0").status == 0)
        let answered = agent.lines.all.filter { $0.hasPrefix("answered") }.count
        let before = try h("dump", "--format", "xenstore").out
        let runs: [([String], String)] = [
            (["discover", "--dry-run"], "  agent 7: rediscover (read the bus and publish it)\n"),
            (["assign", "--dry-run", "--domain", "6", "03:00.0"], "  agent 7: reset 0000:03:00.0 0000:03:00.1 (the agent reports the methods)\n"),
            (["release", "--dry-run", "05:00.0"], "  agent 7: reset 0000:05:00.0 (the agent reports the methods)\n"),
            (["assignable-remove", "--dry-run", "-r", "03:00.0"], "  agent 7: rebind 0000:03:00.0 to igb\n"),
        ]
        for (args, step) in runs {
            let r = try h.cli.run(args)
            #expect(r.status == 0, "\(args): \(r.err)")
            #expect(r.out.hasPrefix("dry run: nothing was changed; this would happen:\n"), "\(args): \(r.out)")
            #expect(r.out.contains(step), "\(args): \(r.out)")
        }
        #expect(try h("dump", "--format", "xenstore").out == before)
        #expect(agent.lines.all.filter { $0.hasPrefix("answered") }.count == answered)
        #expect(agent.stop() == 0)
    }

    /// Exit codes: 1 with the agent's reason, 69 when it is down, 64 for bad input.
    @Test(arguments: backends)
    func failuresSayWhoseAndExitWithTheirCode(_ backend: Backend) throws {
        let (h, _) = try Self.registered(backend)
        defer { h.stop() }
        let agent = try AgentProcess(h)
        #expect(try h("discover").status == 0)
        try h.host.unload("vfio-pci")
        let refused = try h("assignable-add", "--stub", "vfio-pci", "05:00.0")
        #expect(refused.status == 1)
        #expect(refused.err == "pcistore: agent 7 could not seize: stub driver vfio-pci is not loaded (try: modprobe vfio-pci)\n")
        #expect(try h.shown("05:00.0")["state"] as? String == "present")
        #expect(try h("assignable-add", "--timeout", "0", "05:00.0").status == 64)
        #expect(try h("assignable-add", "--request-id", "a:b", "05:00.0").status == 64)
        #expect(try h("agent-register", "--domain", "7", "--slots", "0").status == 64)
        #expect(try h("agent-wait", "--domain", "7", "nosuch").status == 64)
        #expect(agent.stop() == 0)
        let before = try h("dump", "--format", "xenstore").out
        let down = try h("assignable-add", "05:00.0")
        #expect(down.status == 69)
        #expect(down.err.hasPrefix("pcistore: agent 7 stopped (heartbeat seq="), "\(down.err)")
        #expect(down.err.hasSuffix("request was withdrawn, nothing was done\n") || down.err.contains("was withdrawn, nothing was done"), "\(down.err)")
        #expect(try h("dump", "--format", "xenstore").out == before)
    }

    /// A toolstack command killed while it waits: the agent still does the
    /// work, `check` says the answer is not applied, `agent-wait` applies it.
    @Test(arguments: backends)
    func aKilledCommandsRequestIsAnsweredAndAppliedLater(_ backend: Backend) throws {
        let (h, _) = try Self.registered(backend)
        defer { h.stop() }
        let first = try AgentProcess(h)
        #expect(try h("discover").status == 0)
        // Killed: its heartbeat stays "up" and stands still.
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        // Patient: the agent is stopped, and the command must still be waiting when killed.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["assignable-add", "--request-id", "k1", "--down-after", "600", "--timeout", "600", "05:00.0"]
        p.environment = h.cli.environment
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(20)
        while !((try? h("agent-list").out.contains("slot 0: k1 seize 0000:05:00.0 new")) ?? false) && Date() < deadline { usleep(20_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(try h("agent-list").out.contains("slot 0: k1 seize 0000:05:00.0 new"))
        #expect(try h.shown("05:00.0")["state"] as? String == "seizing")

        let agent = try AgentProcess(h)
        #expect(agent.lines.wait { $0.contains("answered k1 seize 0000:05:00.0: done (e1000)") }, "\(agent.lines.all)")
        let check = try h("check")
        #expect(check.status == 1)
        #expect(check.out.contains("/local/pci/agents/7/results/0: request k1 (seize) was answered done, but pid \(p.processIdentifier) that sent it is gone"), "\(check.out)")
        let wait = try h("agent-wait", "k1")
        #expect(wait.status == 0, "\(wait.err)")
        #expect(wait.out.hasSuffix("k1 seize: done (e1000)\n"))
        let shown = try h.shown("05:00.0")
        #expect(shown["state"] as? String == "assignable" && shown["driver"] as? String == "e1000", "\(shown)")
        #expect(try h("check").status == 0)
        #expect(agent.stop() == 0)
    }

    /// `check` lists permissions that drifted; `check --repair` puts them back.
    @Test(arguments: backends)
    func checkReportsPermissionDriftAndRepairsIt(_ backend: Backend) throws {
        let (h, store) = try Self.registered(backend)
        defer { h.stop() }
        try store.introduceDomain(DomID(9))
        try store.setPermissions(AgentLayout.heartbeat(DomID(7)), XenStorePermissions(owner: .dom0, others: .read))
        try store.setPermissions(PCIStoreLayout.devices, XenStorePermissions(owner: .dom0, others: .none, entries: [.init(DomID(9), .both)]))
        let r = try h("check")
        #expect(r.status == 1)
        #expect(r.out.contains("/local/pci/agents/7/heartbeat: permissions r0, expected n0 b7 (every domain may read it)\n"), "\(r.out)")
        #expect(r.out.contains("/local/pci/devices: permissions n0 b9, expected n0 (domain 9 is granted write it should not have)\n"), "\(r.out)")
        let fixed = try h("check", "--repair")
        #expect(fixed.status == 0, "\(fixed.out)")
        #expect(fixed.out.contains("repaired: set permissions of /local/pci/devices to n0 (were n0 b9)\n"))
        #expect(try h("check").status == 0)
    }

    /// The systemd unit must name a command line this parser accepts.
    @Test func theAgentsSystemdUnitParses() throws {
        let unit = try String(contentsOfFile: RealXenStored.repositoryRoot + "/contrib/systemd/pcistore-agent.service", encoding: .utf8)
        let exec = unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }
        let argv = exec?.dropFirst("ExecStart=".count).split(separator: " ").map(String.init) ?? []
        #expect(argv.first?.hasSuffix("/pcistore") == true)
        #expect(unit.contains("Type=simple") && unit.contains("Restart=on-failure"))
        let help = try CLI().run(Array(argv.dropFirst()).filter { !$0.hasPrefix("$") } + ["--help"])
        #expect(help.status == 0 && help.out.contains("USAGE: pcistore agent"), "\(help.err)")
    }
}
