import Foundation
import Testing
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

extension HostCLI {
    /// A connection of the test's own to the store the binary uses, to
    /// introduce and release domains as a toolstack would.
    func storeConnection() throws -> any XenStoreConnection {
        if let direct = try connect() { return direct }
        let store = cli.environment["PCISTORE_STORE"]!
        return try XenStoreEngine(persistingTo: String(store.dropFirst("file:".count))).connect()
    }

    /// A device's record as `show --json` prints it.
    func shown(_ device: String) throws -> [String: Any] {
        let r = try cli.run(["show", "--json", device])
        return (try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]) ?? [:]
    }

    /// 03:00.0/.1 to domain 5 (introduced), 04:00.0/.1 to domain 6 (never
    /// introduced), 05:00.0 to domain 7 (introduced).
    func assignThree(_ store: any XenStoreConnection) throws {
        try store.introduceDomain(DomID(5))
        try store.introduceDomain(DomID(7))
        #expect(try cli.run(["assignable-add", "--stub", "pciback", "03:00.0", "03:00.1", "04:00.0", "04:00.1", "05:00.0"]).status == 0)
        #expect(try cli.run(["assign", "--domain", "5", "03:00.0"]).status == 0)
        #expect(try cli.run(["assign", "--domain", "6", "04:00.0"]).status == 0)
        #expect(try cli.run(["assign", "--domain", "7", "05:00.0"]).status == 0)
    }
}

@Suite struct ReconcileCommandTests {
    @Test(arguments: Backend.allCases)
    func reconcileReleasesTheGoneAndSaysSo(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        let store = try h.storeConnection()
        try h.assignThree(store)
        let before = try h("dump", "--format", "xenstore").out
        let dry = try h("reconcile", "--dry-run")
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.hasPrefix("dry run: nothing was changed; this would happen:\n"))
        #expect(dry.out.contains("  sysfs: write bus/pci/devices/0000:04:00.1/reset = 1\n"))
        #expect(dry.out.contains("  xenstore: write /local/pci/devices/0000/04/0000-04-00-0/state = \"assignable\"\n"))
        #expect(dry.out.hasSuffix("owners: 2 live (5 7), 1 gone (6); would release 0000:04:00.0 (reset bus), 0000:04:00.1 (reset bus)\n"))
        #expect(try h("dump", "--format", "xenstore").out == before)

        try store.releaseDomain(DomID(7))
        let r = try h("reconcile", "--json")
        #expect(r.status == 0, "\(r.err)")
        let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        #expect(doc["live"] as? [Int] == [5] && doc["gone"] as? [Int] == [6, 7] && doc["dry_run"] as? Bool == false)
        let released = doc["released"] as! [[String: Any]]
        #expect(released.map { $0["address"] as? String } == ["0000:04:00.0", "0000:04:00.1", "0000:05:00.0"])
        #expect(released.allSatisfy { $0["state"] as? String == "assignable" && ($0["changed"] as? [String: Any])?["tool"] as? String == "reconcile" })
        #expect(try h.shown("04:00.1")["state"] as? String == "assignable")
        #expect(try h.shown("03:00.0")["domain"] as? Int == 5)

        let again = try h("reconcile")
        #expect(again.status == 0)
        #expect(again.out == "owners: 1 live (5), 0 gone; nothing released\n")
        #expect(try h("check", "--sysfs", h.host.root).status == 0)
    }

    @Test(arguments: Backend.allCases)
    func reconcileExitCodes(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        let store = try h.storeConnection()
        try h.assignThree(store)
        // Bad usage changes nothing.
        let before = try h("dump", "--format", "xenstore").out
        for args in [["reconcile", "--domain", "6"], ["reconcile", "6"], ["daemon", "--dry-run"]] {
            let r = try h.cli.run(args)
            #expect(r.status == 64, "\(args): \(r.err)")
        }
        #expect(try h("dump", "--format", "xenstore").out == before)
        // Someone gave 04:00.0's name to 03:00.0 too: domain 6's release is
        // refused (exit 1, one line naming it); domain 7's still happens.
        #expect(try h("store", "write", PCIStoreLayout.node(try SBDF("04:00.0"), "name").rawValue, "gpu").status == 0)
        #expect(try h("store", "write", PCIStoreLayout.name(try DeviceName("gpu")).rawValue, "0000-03-00-0").status == 0)
        #expect(try h("store", "write", PCIStoreLayout.node(try SBDF("03:00.0"), "name").rawValue, "gpu").status == 0)
        try store.releaseDomain(DomID(7))
        let r = try h("reconcile")
        #expect(r.status == 1)
        #expect(r.err == "pcistore: domain 6: the name gpu is taken by 0000:03:00.0\n")
        #expect(r.out.hasSuffix("owners: 1 live (5), 1 gone (7); released 0000:05:00.0 (reset unsupported); 1 failed\n"))
        #expect(try h.shown("05:00.0")["state"] as? String == "assignable")
        #expect(try h.shown("04:00.0")["state"] as? String == "assigned")
    }

    @Test func reconcileWithoutAStoreIsExit69() throws {
        let r = try CLI(store: "xenstore", extra: ["XENSTORED_PATH": "/nonexistent/socket"])("reconcile")
        #expect(r.status == 69)
        #expect(r.err.contains("UNREACHABLE"))
        let d = try CLI(store: "xenstore", extra: ["XENSTORED_PATH": "/nonexistent/socket"])("daemon")
        #expect(d.status == 69)
    }
}

@Suite struct DaemonCommandTests {
    /// The systemd unit must name a command line this parser accepts.
    @Test func theSystemdUnitsCommandLineParses() throws {
        let unit = try String(contentsOfFile: RealXenStored.repositoryRoot + "/contrib/systemd/pcistore-daemon.service", encoding: .utf8)
        let exec = unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }
        let argv = exec?.dropFirst("ExecStart=".count).split(separator: " ").map(String.init) ?? []
        #expect(argv.first?.hasSuffix("/pcistore") == true)
        #expect(unit.contains("Type=simple") && unit.contains("Restart=on-failure") && unit.contains("After=xenstored.service"))
        let help = try CLI().run(Array(argv.dropFirst()) + ["--help"])
        #expect(help.status == 0 && help.out.contains("USAGE: pcistore daemon"), "\(help.err)")
    }

    /// Lines a running process prints, read on a handler of their own so
    /// waiting has a deadline.
    final class Lines: @unchecked Sendable {
        let lock = NSLock()
        var text = ""
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return text.split(separator: "\n").map(String.init)
        }
        func attach(_ pipe: Pipe) {
            pipe.fileHandleForReading.readabilityHandler = { [self] fh in
                let d = fh.availableData
                lock.lock()
                text += String(decoding: d, as: UTF8.self)
                lock.unlock()
            }
        }
        func wait(seconds: Double = 20, until done: ([String]) -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !done(all) && Date() < deadline { usleep(5000) }
            return done(all)
        }
    }

    func waitForExit(_ p: Process, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(5000) }
        if p.isRunning { p.interrupt(); kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); return false }
        return true
    }

    /// `pcistore daemon` reconciles at start-up, gives back a domain's
    /// devices when the domain is released, and ends with exit 0 on SIGTERM.
    @Test(arguments: Backend.allCases)
    func daemonReleasesAGoneDomainAndEndsOnSIGTERM(_ backend: Backend) throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        let store = try h.storeConnection()
        try h.assignThree(store)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["daemon"]
        p.environment = h.cli.environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let lines = Lines(), errors = Lines()
        lines.attach(out)
        errors.attach(err)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(lines.wait { !$0.isEmpty }, "\(errors.all)")
        #expect(lines.all.first == "startup: owners: 2 live (5 7), 1 gone (6); released 0000:04:00.0 (reset bus), 0000:04:00.1 (reset bus)")
        try store.releaseDomain(DomID(7))
        #expect(lines.wait { $0.count >= 2 }, "\(errors.all)")
        #expect(lines.all.dropFirst().first == "release-domain: owners: 1 live (5), 1 gone (7); released 0000:05:00.0 (reset unsupported)")
        let shown = try h.shown("05:00.0")
        #expect(shown["state"] as? String == "assignable")
        #expect((shown["changed"] as? [String: Any])?["tool"] as? String == "reconcile")
        #expect(try h.shown("03:00.1")["domain"] as? Int == 5)
        p.terminate()
        #expect(waitForExit(p))
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        #expect(p.terminationReason == .exit && p.terminationStatus == 0, "\(errors.all)")
        #expect(errors.all.isEmpty, "\(errors.all)")
    }

    @Test func daemonEndsOnSIGINTToo() throws {
        let h = try HostCLI(.engine)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["daemon"]
        p.environment = h.cli.environment
        let out = Pipe()
        p.standardOutput = out
        let lines = Lines()
        lines.attach(out)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(lines.wait { !$0.isEmpty })
        #expect(lines.all == ["startup: owners: 0 live, 0 gone; nothing released"])
        p.interrupt()
        #expect(waitForExit(p))
        out.fileHandleForReading.readabilityHandler = nil
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
    }
}
