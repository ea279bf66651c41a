import Foundation
import Testing
import XenStore
import XenStoreTestSupport

/// Runs the built `pcistore` binary, as an admin would.
struct CLI {
    static let binary: String = {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pcistore").path
    }()

    typealias Result = Subprocess.Result

    var environment: [String: String]

    init(store: String? = nil, extra: [String: String] = [:]) {
        var env = ProcessInfo.processInfo.environment
        env["PCISTORE_STORE"] = store
        env.merge(extra) { $1 }
        environment = env
    }

    static func temporaryStore() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-cli-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return "file:" + dir.appendingPathComponent("store").path
    }

    @discardableResult
    func callAsFunction(_ args: String...) throws -> Result { try run(args) }

    func run(_ args: [String]) throws -> Result {
        try Subprocess.run(Self.binary, args, environment: environment)
    }
}

@Suite struct CLITests {
    @Test func writeReadListRemove() throws {
        let cli = CLI(store: CLI.temporaryStore())
        #expect(try cli("store", "write", "/local/pci/a", "hello world").status == 0)
        #expect(try cli("store", "write", "/local/pci/b/c", "x").status == 0)
        let read = try cli("store", "read", "/local/pci/a")
        #expect(read.status == 0 && read.out == "hello world\n")
        let ls = try cli("store", "ls", "/local/pci")
        #expect(ls.out == "/local/pci = \"\"\n/local/pci/a = \"hello world\"\n/local/pci/b = \"\"\n/local/pci/b/c = \"x\"\n")
        #expect(try cli("store", "ls", "-p", "/local/pci/b").out.contains("/local/pci/b/c = \"x\"  (n0)"))
        #expect(try cli("store", "rm", "/local/pci/b").status == 0)
        #expect(try cli("store", "ls", "/local/pci").out.components(separatedBy: "\n").count == 3)
    }

    @Test func missingNodeIsExit1WithOneLine() throws {
        let r = try CLI(store: CLI.temporaryStore())("store", "read", "/local/pci/nope")
        #expect(r.status == 1)
        #expect(r.out.isEmpty)
        #expect(r.err == "pcistore: READ /local/pci/nope: ENOENT\n")
    }

    @Test(arguments: [
        ["store", "read", "/local/pci/0000:03:00.0"],
        ["store", "read", "relative/path"],
        ["store", "write", "/local/pci/x", "tab\there"],
        ["store", "read", "--store", "tcp:host", "/local/pci"],
        ["store", "frobnicate"],
    ])
    func badInputIsExit64AndChangesNothing(_ args: [String]) throws {
        let store = CLI.temporaryStore()
        let cli = CLI(store: store)
        let r = try cli.run(args)
        #expect(r.status == 64, "\(r.err)")
        #expect(!r.err.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: String(store.dropFirst(5))))
    }

    @Test func noDaemonIsExit69() throws {
        let r = try CLI(store: "xenstore", extra: ["XENSTORED_PATH": "/nonexistent/socket"])("store", "ls", "/")
        #expect(r.status == 69)
        #expect(r.err.contains("UNREACHABLE"))
    }

    @Test func talksToTheRealDaemon() throws {
        let daemon = try RealXenStored.shared()
        let cli = CLI(store: "xenstore", extra: ["XENSTORED_PATH": daemon.socketPath])
        let path = "/cli/t\(getpid())"
        #expect(try cli("store", "write", path + "/node", "v").status == 0)
        #expect(try cli("store", "ls", path).out == "\(path) = \"\"\n\(path)/node = \"v\"\n")
        #expect(try daemon.connect().readString(XenStorePath(path + "/node")) == "v")
    }

    @Test func automaticFallbackIsAnnouncedOnce() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-xdg-\(UUID().uuidString)").path
        let cli = CLI(extra: ["XENSTORED_PATH": "/nonexistent/socket", "XDG_STATE_HOME": state])
        let r = try cli("store", "write", "/local/pci/x", "1")
        #expect(r.status == 0)
        #expect(r.err.components(separatedBy: "\n").filter { $0.contains("embedded store") }.count == 1)
        #expect(try cli("store", "read", "/local/pci/x").out == "1\n")
    }

    @Test func concurrentProcessesLoseNoWrite() async throws {
        let cli = CLI(store: CLI.temporaryStore())
        try await withThrowingTaskGroup(of: Int32.self) { group in
            for p in 0..<4 {
                group.addTask {
                    var worst: Int32 = 0
                    for i in 0..<15 { worst = max(worst, try cli("store", "write", "/local/pci/p\(p)/n\(i)", "\(i)").status) }
                    return worst
                }
            }
            for try await status in group { #expect(status == 0) }
        }
        let lines = try cli("store", "ls", "/local/pci").out.split(separator: "\n")
        #expect(lines.count == 1 + 4 + 60)
    }

    @Test func helpDocumentsExitCodesAndExamples() throws {
        let top = try CLI()("--help")
        #expect(top.out.contains("69 store unreachable"))
        for sub in ["read", "write", "ls", "rm"] {
            #expect(try CLI()("store", sub, "--help").out.contains("Example: pcistore store \(sub)"))
        }
    }
}
