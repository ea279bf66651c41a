import Foundation
import Synchronization
import XenStore

/// The stores every semantic test runs against.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The embedded engine, in process.
    case engine
    /// Debian's cxenstored 4.17 through libxenstore.
    case xenstored
    /// The embedded engine served on a unix socket (`pcistore serve`),
    /// through libxenstore: the wire protocol, end to end.
    case served

    public var description: String { rawValue }

    /// A fresh place to work: two connections to one store and a subtree of
    /// its own (the real daemon is shared by the whole test process).
    public func fixture() throws -> StoreFixture {
        switch self {
        case .engine:
            let engine = XenStoreEngine()
            return StoreFixture(backend: self, root: "/conformance", connect: { engine.connect() }, engine: engine)
        case .xenstored:
            let daemon = try RealXenStored.shared()
            let root = try XenStorePath("/conformance/t\(StoreFixture.serial.add(1, ordering: .relaxed).newValue)")
            return StoreFixture(backend: self, root: root, connect: { try daemon.connect() }, daemon: daemon)
        case .served:
            let served = try ServedEngine.shared()
            let root = try XenStorePath("/conformance/t\(StoreFixture.serial.add(1, ordering: .relaxed).newValue)")
            return StoreFixture(backend: self, root: root, connect: { try served.connect() }, served: served)
        }
    }
}

public struct StoreFixture: Sendable {
    static let serial = Atomic<Int>(0)

    public let backend: Backend
    /// Every test writes below this path only.
    public let root: XenStorePath
    /// Opens another connection to the same store (as dom0).
    public let connect: @Sendable () throws -> any XenStoreConnection
    public let engine: XenStoreEngine?
    public let daemon: RealXenStored?
    public let served: ServedEngine?

    init(backend: Backend, root: XenStorePath, connect: @escaping @Sendable () throws -> any XenStoreConnection,
         engine: XenStoreEngine? = nil, daemon: RealXenStored? = nil, served: ServedEngine? = nil) {
        self.backend = backend
        self.root = root
        self.connect = connect
        self.engine = engine
        self.daemon = daemon
        self.served = served
    }

    /// `root` + a relative path (`"a/b"`), or an absolute one as given.
    public func path(_ relative: String) throws -> XenStorePath {
        if relative.hasPrefix("/") || relative.hasPrefix("@") { return try XenStorePath(relative) }
        return try XenStorePath(relative.isEmpty ? root.rawValue : root.rawValue + "/" + relative)
    }
}

/// Consumes a watch in the background and keeps what arrived, so tests can
/// wait for events with a deadline without cancelling the stream itself.
public final class WatchRecorder: Sendable {
    private final class Box: Sendable {
        let events = Mutex<[XenStoreWatchEvent]>([])
        let ended = Mutex(false)
    }
    private let box = Box()
    private let task: Task<Void, Never>

    public init(_ watch: XenStoreWatch) {
        let box = self.box
        task = Task(executorPreference: WatcherExecutor.next()) {
            for await e in watch { box.events.withLock { $0.append(e) } }
            box.ended.withLock { $0 = true }
        }
    }

    deinit { task.cancel() }

    public var received: [XenStoreWatchEvent] { box.events.withLock { $0 } }
    /// True once the sequence ended by itself (or the recorder was stopped).
    public var ended: Bool { box.ended.withLock { $0 } }

    /// Waits until the sequence ended or `seconds` passed; returns whether it ended.
    public func waitForEnd(seconds: Double = 20) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !ended && Date() < deadline { try? await Task.sleep(nanoseconds: 2_000_000) }
        return ended
    }
    public var paths: [String] { received.map(\.path.rawValue) }

    /// Waits until at least `count` events arrived or `seconds` passed; returns what arrived.
    @discardableResult
    public func wait(for count: Int, seconds: Double = 20) async -> [XenStoreWatchEvent] {
        let deadline = Date().addingTimeInterval(seconds)
        while received.count < count && Date() < deadline {
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return received
    }

    /// Lets in-flight events land, for asserting that nothing more arrives.
    public func settle(seconds: Double = 0.2) async -> [XenStoreWatchEvent] {
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        return received
    }

    public func stop() { task.cancel() }
}
