/// A transaction id on one connection; `.none` means "outside any transaction".
public struct XenStoreTransactionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static let none = XenStoreTransactionID(0)
    public var description: String { String(rawValue) }
}

/// One connection to a XenStore, whatever is behind it: the real daemon through
/// libxenstore, or the embedded engine.
///
/// Every call is one request and one answer; failures are `XenStoreError` with
/// the daemon's errno name. Conformers are safe to share between threads.
public protocol XenStoreConnection: AnyObject, Sendable {
    /// The domain this connection acts as (0 for the privileged socket).
    var domain: DomID { get }

    /// `XS_READ`: the node's value, bytes as stored.
    func read(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [UInt8]
    /// `XS_WRITE`: creates missing parents (they inherit the parent's permissions).
    func write(_ path: XenStorePath, _ value: [UInt8], transaction: XenStoreTransactionID) throws(XenStoreError)
    /// `XS_MKDIR`: creates the node empty if missing; fine if it exists.
    func mkdir(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError)
    /// `XS_RM`: removes the node and everything below; fine if missing but the parent exists.
    func remove(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError)
    /// `XS_DIRECTORY`: child names in the daemon's order (creation order).
    func directory(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [XenStoreNodeName]
    /// `XS_GET_PERMS`.
    func permissions(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> XenStorePermissions
    /// `XS_SET_PERMS`.
    func setPermissions(_ path: XenStorePath, _ permissions: XenStorePermissions,
                        transaction: XenStoreTransactionID) throws(XenStoreError)
    /// `XS_TRANSACTION_START`.
    func startTransaction() throws(XenStoreError) -> XenStoreTransactionID
    /// `XS_TRANSACTION_END`: commit (`EAGAIN` on conflict) or abort.
    func endTransaction(_ transaction: XenStoreTransactionID, commit: Bool) throws(XenStoreError)
    /// `XS_WATCH`: events for `path` and everything below it, starting with one
    /// for the registration itself. Ending the iteration (or dropping the
    /// sequence) sends `XS_UNWATCH`. At most `queueLimit` events wait for the
    /// reader; one more and the watch ends early, `overflowed`.
    func watch(_ path: XenStorePath, queueLimit: Int) throws(XenStoreError) -> XenStoreWatch
    /// `XS_INTRODUCE` (privileged): tell the store a domain exists; fires `@introduceDomain`.
    func introduceDomain(_ domain: DomID) throws(XenStoreError)
    /// `XS_RELEASE` (privileged): the domain is gone; fires `@releaseDomain`.
    func releaseDomain(_ domain: DomID) throws(XenStoreError)
    /// `XS_IS_DOMAIN_INTRODUCED`: whether the store knows `domain` (dom0 always).
    /// This is how a dom0 tool tells a dead owner from a live one.
    func isDomainIntroduced(_ domain: DomID) throws(XenStoreError) -> Bool
    /// Stops event delivery and releases the connection; later calls fail `.unreachable`.
    func close()
}

extension XenStoreConnection {
    public func read(_ path: XenStorePath) throws(XenStoreError) -> [UInt8] {
        try read(path, transaction: .none)
    }
    public func write(_ path: XenStorePath, _ value: [UInt8]) throws(XenStoreError) {
        try write(path, value, transaction: .none)
    }
    public func write(_ path: XenStorePath, _ value: String) throws(XenStoreError) {
        try write(path, Array(value.utf8), transaction: .none)
    }
    /// The value as text. Never traps on garbage: bytes that are not UTF-8
    /// come back as U+FFFD; callers that must reject them use `read`.
    public func readString(_ path: XenStorePath) throws(XenStoreError) -> String {
        String(decoding: try read(path, transaction: .none), as: UTF8.self)
    }
    /// `XS_WATCH` with `XenStoreWatch.defaultQueueLimit`.
    public func watch(_ path: XenStorePath) throws(XenStoreError) -> XenStoreWatch {
        try watch(path, queueLimit: XenStoreWatch.defaultQueueLimit)
    }
    public func mkdir(_ path: XenStorePath) throws(XenStoreError) { try mkdir(path, transaction: .none) }
    public func remove(_ path: XenStorePath) throws(XenStoreError) { try remove(path, transaction: .none) }
    public func directory(_ path: XenStorePath) throws(XenStoreError) -> [XenStoreNodeName] {
        try directory(path, transaction: .none)
    }
    public func permissions(_ path: XenStorePath) throws(XenStoreError) -> XenStorePermissions {
        try permissions(path, transaction: .none)
    }
    public func setPermissions(_ path: XenStorePath, _ permissions: XenStorePermissions) throws(XenStoreError) {
        try setPermissions(path, permissions, transaction: .none)
    }
    /// True when the node exists (a read that fails `ENOENT` is a "no").
    public func exists(_ path: XenStorePath, transaction: XenStoreTransactionID = .none) throws(XenStoreError) -> Bool {
        do {
            _ = try read(path, transaction: transaction)
            return true
        } catch where error.code == .notFound {
            return false
        }
    }
}
