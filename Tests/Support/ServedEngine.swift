import Foundation
import Synchronization
import XenStore

/// The embedded engine served on a unix socket in this process
/// (`XenStoreServer`, what `pcistore serve` runs), reached like the real
/// daemon: through libxenstore.
public final class ServedEngine: Sendable {
    public let engine: XenStoreEngine
    public let server: XenStoreServer
    public var socketPath: String { server.socketPath }
    private let task: Task<Void, Never>

    public static func start(engine: XenStoreEngine = XenStoreEngine()) throws -> ServedEngine {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("pcistore-served-\(getpid())-\(UUID().uuidString.prefix(8)).sock").path
        return ServedEngine(engine: engine, server: try XenStoreServer(engine: engine, socketPath: path))
    }

    init(engine: XenStoreEngine, server: XenStoreServer) {
        self.engine = engine
        self.server = server
        task = Task { await server.run() }
    }

    /// One server for the whole test process.
    public static func shared() throws -> ServedEngine {
        try sharedServer.withLock { (s: inout ServedEngine?) throws -> ServedEngine in
            if let s { return s }
            let started = try start()
            s = started
            return started
        }
    }
    private static let sharedServer = Mutex<ServedEngine?>(nil)

    public func connect() throws(XenStoreError) -> LibXenStoreConnection {
        try LibXenStoreConnection(socketPath: socketPath)
    }

    /// Stops serving: every client is disconnected, the socket file goes.
    public func stop() async {
        task.cancel()
        await task.value
    }
}
