import Synchronization
import XenStore

/// A connection that passes every request on to another one, and lets a test
/// act at a chosen moment: before a given request is sent. This is how tests
/// put another party's step (a domain introduced) exactly between two steps
/// of an operation, instead of hoping a race lands there.
public final class InterposedConnection: XenStoreConnection {
    /// One request, as the hook sees it before it is sent.
    public enum Request: Sendable {
        case isDomainIntroduced(DomID)
        case write(XenStorePath, String, inTransaction: Bool)
        case directory(XenStorePath)
        case commit
    }

    public let base: any XenStoreConnection
    private let hook: Mutex<(@Sendable (Request) -> Void)?>

    public init(_ base: any XenStoreConnection, before hook: @escaping @Sendable (Request) -> Void) {
        self.base = base
        self.hook = Mutex(hook)
    }

    public var domain: DomID { base.domain }

    /// Runs the hook outside its lock, so the hook may send requests itself.
    private func before(_ r: Request) {
        let h = hook.withLock { $0 }
        h?(r)
    }

    public func read(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [UInt8] {
        try base.read(path, transaction: transaction)
    }
    public func write(_ path: XenStorePath, _ value: [UInt8], transaction: XenStoreTransactionID) throws(XenStoreError) {
        before(.write(path, String(decoding: value, as: UTF8.self), inTransaction: transaction != .none))
        try base.write(path, value, transaction: transaction)
    }
    public func mkdir(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) {
        try base.mkdir(path, transaction: transaction)
    }
    public func remove(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) {
        try base.remove(path, transaction: transaction)
    }
    public func directory(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [XenStoreNodeName] {
        before(.directory(path))
        return try base.directory(path, transaction: transaction)
    }
    public func permissions(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> XenStorePermissions {
        try base.permissions(path, transaction: transaction)
    }
    public func setPermissions(_ path: XenStorePath, _ permissions: XenStorePermissions,
                               transaction: XenStoreTransactionID) throws(XenStoreError) {
        try base.setPermissions(path, permissions, transaction: transaction)
    }
    public func startTransaction() throws(XenStoreError) -> XenStoreTransactionID { try base.startTransaction() }
    public func endTransaction(_ transaction: XenStoreTransactionID, commit: Bool) throws(XenStoreError) {
        if commit { before(.commit) }
        try base.endTransaction(transaction, commit: commit)
    }
    public func watch(_ path: XenStorePath, queueLimit: Int) throws(XenStoreError) -> XenStoreWatch {
        try base.watch(path, queueLimit: queueLimit)
    }
    public func introduceDomain(_ domain: DomID) throws(XenStoreError) { try base.introduceDomain(domain) }
    public func releaseDomain(_ domain: DomID) throws(XenStoreError) { try base.releaseDomain(domain) }
    public func isDomainIntroduced(_ domain: DomID) throws(XenStoreError) -> Bool {
        before(.isDomainIntroduced(domain))
        return try base.isDomainIntroduced(domain)
    }
    public func close() { base.close() }
}
