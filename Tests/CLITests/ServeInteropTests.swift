import Foundation
import Testing
import XenStore
import XenStoreTestSupport

/// `pcistore serve` driven by real clients: Debian's xenstore-utils (C, on
/// libxenstore), pyxs (Python, its own wire code), libxenstore in this
/// process, and pcistore itself. (The whole conformance suite also runs on
/// the served engine through libxenstore: `Backend.served`.)
@Suite struct ServeInteropTests {
    static func tool(_ name: String, _ args: [String], socket: String) throws -> Subprocess.Result {
        var env = ProcessInfo.processInfo.environment
        env["XENSTORED_PATH"] = socket
        return try Subprocess.run("/usr/bin/" + name, args, environment: env)
    }

    @Test func xenstoreUtilsWorkAgainstServe() throws {
        let s = try ServeProcess()
        defer { s.stop() }
        let sock = s.socketPath
        #expect(try Self.tool("xenstore-write", ["/vm/a", "hello", "/vm/b/c", "world"], socket: sock).status == 0)
        #expect(try Self.tool("xenstore-read", ["/vm/a"], socket: sock).out == "hello\n")
        #expect(try Self.tool("xenstore-exists", ["/vm/b/c"], socket: sock).status == 0)
        let missing = try Self.tool("xenstore-read", ["/vm/nope"], socket: sock)
        #expect(missing.status != 0)
        #expect(try Self.tool("xenstore-chmod", ["/vm/a", "n0", "r5"], socket: sock).status == 0)
        let ls = try Self.tool("xenstore-ls", ["-p", "/vm"], socket: sock)
        #expect(ls.status == 0 && ls.out.contains("a = \"hello\"") && ls.out.contains("(n0,r5)"), "\(ls.out)")
        #expect(try Self.tool("xenstore-list", ["/vm"], socket: sock).out == "a\nb\n")
        // A child list too long for one reply: libxenstore falls back to DIRECTORY_PART.
        let names = (0..<300).map { String(format: "child%04d_with_a_long_name", $0) }
        let writes = names.flatMap { ["/big/" + $0, "v"] }
        #expect(try Self.tool("xenstore-write", writes, socket: sock).status == 0)
        #expect(try Self.tool("xenstore-list", ["/big"], socket: sock).out == names.map { $0 + "\n" }.joined())
        // A watch prints the registration event, then the change.
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/usr/bin/xenstore-watch")
        watcher.arguments = ["-n", "2", "/vm"]
        var env = ProcessInfo.processInfo.environment
        env["XENSTORED_PATH"] = sock
        watcher.environment = env
        let out = Pipe()
        watcher.standardOutput = out
        try watcher.run()
        let c = try LibXenStoreConnection(socketPath: sock)
        defer { c.close() }
        // Write until the watcher has registered and heard a change (it exits after 2 events).
        for i in 0..<400 where watcher.isRunning {
            try c.write(XenStorePath("/vm/a"), "v\(i)")
            usleep(50_000)
        }
        watcher.waitUntilExit()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        #expect(lines.first == "/vm" && lines.count == 2 && lines.last == "/vm/a", "\(lines)")
        #expect(try Self.tool("xenstore-rm", ["/vm"], socket: sock).status == 0)
        #expect(try Self.tool("xenstore-exists", ["/vm"], socket: sock).status != 0)
        let stopped = s.stop()
        #expect(stopped.status == 0, "\(stopped.err)")
        #expect(!FileManager.default.fileExists(atPath: sock))
    }

    @Test func pyxsWorksAgainstServe() throws {
        let s = try ServeProcess()
        defer { s.stop() }
        let script = RealXenStored.repositoryRoot + "/Tests/Interop/pyxs_client.py"
        let r = try Subprocess.run("/usr/bin/python3", [script, s.socketPath])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.split(separator: "\n").last == "pyxs: ok", "\(r.out)")
    }

    @Test func pcistoreItselfAndARestartWithState() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let state = dir.appendingPathComponent("store").path
        var s = try ServeProcess(state: state)
        let cli = CLI(store: "xenstore", extra: ["XENSTORED_PATH": s.socketPath])
        #expect(try cli("store", "write", "/local/pci/x", "kept").status == 0)
        #expect(s.stop().status == 0)
        // The same store, served again; and as a file store.
        s = try ServeProcess(socketPath: s.socketPath, state: state)
        defer { s.stop() }
        #expect(try cli("store", "read", "/local/pci/x").out == "kept\n")
        #expect(try CLI(store: "file:" + state)("store", "read", "/local/pci/x").out == "kept\n")
        // A second server on a live socket is refused with the store-unreachable class of error.
        let second = try CLI().run(["serve", "--socket", s.socketPath])
        #expect(second.status != 0 && second.err.contains("another server is listening there"), "\(second.err)")
    }
}
