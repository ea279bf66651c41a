import Foundation
import Synchronization
import XenStore

/// The real C xenstored (Debian's xen-utils-4.17), started in user space by
/// `scripts/xenstored/xenstored.sh` in a private run directory.
///
/// A test that needs it starts it: there is no skip when it cannot start —
/// `start()` throws and the test fails.
public final class RealXenStored: Sendable {
    public let runDirectory: String
    public let socketPath: String

    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var script: String { repositoryRoot + "/scripts/xenstored/xenstored.sh" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts a daemon; `arguments` go to xenstored (e.g. `["-E", "50"]`).
    public static func start(arguments: [String] = []) throws -> RealXenStored {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pcistore-xenstored-\(getpid())-\(UUID().uuidString.prefix(8))").path
        let (status, out, err) = try run([script, "start", dir] + arguments)
        guard status == 0 else {
            throw Failure(description: "xenstored did not start (exit \(status)): \(err)")
        }
        return RealXenStored(runDirectory: dir, socketPath: out.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    init(runDirectory: String, socketPath: String) {
        self.runDirectory = runDirectory
        self.socketPath = socketPath
    }

    /// One daemon for the whole test process, stopped when the process exits.
    public static func shared() throws -> RealXenStored {
        try sharedDaemon.withLock { (d: inout RealXenStored?) throws -> RealXenStored in
            if let d { return d }
            let started = try start()
            d = started
            sharedRunDirectory = started.runDirectory
            atexit {
                if let dir = RealXenStored.sharedRunDirectory {
                    _ = try? RealXenStored.run([RealXenStored.script, "stop", dir])
                }
            }
            return started
        }
    }

    private static let sharedDaemon = Mutex<RealXenStored?>(nil)
    nonisolated(unsafe) private static var sharedRunDirectory: String?

    public func connect() throws(XenStoreError) -> LibXenStoreConnection {
        try LibXenStoreConnection(socketPath: socketPath)
    }

    public func stop() {
        _ = try? Self.run([Self.script, "stop", runDirectory])
    }

    /// After `stop()`: a new daemon in the same run directory, so on the same
    /// socket, as a restarted xenstored would be. Its store is empty.
    public func startAgain(arguments: [String] = []) throws {
        let (status, _, err) = try Self.run([Self.script, "start", runDirectory] + arguments)
        guard status == 0 else { throw Failure(description: "xenstored did not start again (exit \(status)): \(err)") }
    }

    /// Simulates a hypervisor event (`"dying 5"`, `"create 7"`), see the script.
    public func hypervisorEvent(_ command: String) throws {
        let (status, _, err) = try Self.run([Self.script, "evtchn", runDirectory, command])
        if status != 0 { throw Failure(description: "evtchn \(command): \(err)") }
    }

    @discardableResult
    static func run(_ argv: [String]) throws -> (Int32, String, String) {
        let r = try Subprocess.run("/bin/bash", argv)
        return (r.status, r.out, r.err)
    }
}
