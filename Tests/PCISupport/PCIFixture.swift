import Foundation
import PCIStore
import PCIStoreSchema
import XenStore
import XenStoreTestSupport

/// A database on one backend over a fake host: the store (a fresh engine, or
/// a fresh real xenstored of its own, since the database's root is fixed),
/// the fake sysfs with its kernel stand-in running, and a `PCIDatabase`.
public final class PCIFixture: @unchecked Sendable {
    public let backend: Backend
    public let host: FakeSysfs
    public let store: any XenStoreConnection
    public let daemon: RealXenStored?
    public let engine: XenStoreEngine?
    public let served: ServedEngine?
    public var db: PCIDatabase
    public var sysfs: Sysfs

    public init(_ backend: Backend, host: FakeSysfs? = nil, settleTimeout: Double = 2) throws {
        self.backend = backend
        self.host = try host ?? FakeSysfs.standardHost()
        try self.host.startKernel()
        switch backend {
        case .engine:
            let e = XenStoreEngine()
            engine = e
            daemon = nil
            served = nil
            store = e.connect()
        case .xenstored:
            let d = try RealXenStored.start()
            daemon = d
            engine = nil
            served = nil
            store = try d.connect()
        case .served:
            let s = try ServedEngine.start()
            served = s
            engine = nil
            daemon = nil
            store = try s.connect()
        }
        db = PCIDatabase(store: store, actor: ChangeActor(now: { 1_764_100_800 }))
        sysfs = self.host.sysfs(settleTimeout: settleTimeout)
    }

    deinit {
        store.close()
        daemon?.stop()
        if let served { Task { await served.stop() } }
    }

    /// Another connection to the same store, for a second "process".
    public func connect() throws -> any XenStoreConnection {
        if let engine { return engine.connect() }
        if let served { return try served.connect() }
        return try daemon!.connect()
    }

    public func record(_ a: String) throws -> DeviceRecord {
        try db.record(SBDF(a))!
    }

    /// Every node under /local/pci, for "nothing changed" comparisons.
    public func tree() throws -> [String] {
        guard try store.exists(PCIStoreLayout.root) else { return [] }
        return try store.subtree(PCIStoreLayout.root).map { "\($0.path)=\(String(decoding: $0.value, as: UTF8.self))" }
    }
}

public func sbdf(_ s: String) -> SBDF { try! SBDF(s) }
