#if canImport(Glibc)
import Glibc
#endif

/// The operations of one open transaction, handed to `transaction(_:)`'s closure.
///
/// cxenstored checks, at commit, the nodes the transaction *accessed*: every
/// node read (and every node a write, mkdir or rm looked up first) must still
/// have the generation it had then, or the commit fails `EAGAIN`. A value the
/// closure relies on must therefore be read inside it, never before.
public struct XenStoreTransaction: Sendable {
    public let connection: any XenStoreConnection
    public let id: XenStoreTransactionID

    public func read(_ path: XenStorePath) throws(XenStoreError) -> [UInt8] {
        try connection.read(path, transaction: id)
    }
    public func readString(_ path: XenStorePath) throws(XenStoreError) -> String {
        String(decoding: try connection.read(path, transaction: id), as: UTF8.self)
    }
    /// The value, or nil when the node does not exist.
    public func readIfPresent(_ path: XenStorePath) throws(XenStoreError) -> [UInt8]? {
        do { return try connection.read(path, transaction: id) } catch where error.code == .notFound { return nil }
    }
    /// The children, or nil when the node does not exist.
    public func directoryIfPresent(_ path: XenStorePath) throws(XenStoreError) -> [XenStoreNodeName]? {
        do { return try connection.directory(path, transaction: id) } catch where error.code == .notFound { return nil }
    }
    public func write(_ path: XenStorePath, _ value: [UInt8]) throws(XenStoreError) {
        try connection.write(path, value, transaction: id)
    }
    public func write(_ path: XenStorePath, _ value: String) throws(XenStoreError) {
        try connection.write(path, Array(value.utf8), transaction: id)
    }
    public func mkdir(_ path: XenStorePath) throws(XenStoreError) { try connection.mkdir(path, transaction: id) }
    public func remove(_ path: XenStorePath) throws(XenStoreError) { try connection.remove(path, transaction: id) }
    public func directory(_ path: XenStorePath) throws(XenStoreError) -> [XenStoreNodeName] {
        try connection.directory(path, transaction: id)
    }
    public func permissions(_ path: XenStorePath) throws(XenStoreError) -> XenStorePermissions {
        try connection.permissions(path, transaction: id)
    }
    public func setPermissions(_ path: XenStorePath, _ p: XenStorePermissions) throws(XenStoreError) {
        try connection.setPermissions(path, p, transaction: id)
    }
}

/// How often and how patiently `transaction(_:)` re-runs a conflicting closure.
public struct XenStoreRetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// Sleep before the second attempt; doubles each time up to `maxDelay`,
    /// with jitter so that racing writers stop colliding in lockstep.
    public var initialDelayMicroseconds: UInt32
    public var maxDelayMicroseconds: UInt32

    public init(maxAttempts: Int = 16, initialDelayMicroseconds: UInt32 = 200, maxDelayMicroseconds: UInt32 = 50_000) {
        precondition(maxAttempts >= 1)
        self.maxAttempts = maxAttempts
        self.initialDelayMicroseconds = initialDelayMicroseconds
        self.maxDelayMicroseconds = maxDelayMicroseconds
    }

    public static let `default` = XenStoreRetryPolicy()

    func delay(beforeAttempt attempt: Int) -> UInt32 {
        let base = min(UInt64(initialDelayMicroseconds) << UInt64(min(attempt - 2, 20)), UInt64(maxDelayMicroseconds))
        return UInt32(base / 2 + UInt64.random(in: 0...(base / 2)))
    }
}

extension XenStoreConnection {
    /// Runs `body` in a transaction: commits when it returns, aborts when it throws.
    ///
    /// On `EAGAIN` at commit (or thrown by the closure, meaning "what I read
    /// does not hang together") the whole closure runs again (so it must have no
    /// effects outside the transaction), up to `policy.maxAttempts` times with
    /// growing, jittered back-off; after that it fails `.retriesExhausted`.
    /// Conflicts are detected only on nodes the transaction read or looked up
    /// (see `XenStoreTransaction`): read everything the decision depends on.
    public func transaction<T>(
        policy: XenStoreRetryPolicy = .default,
        _ body: (XenStoreTransaction) throws -> T
    ) throws -> T {
        var attempt = 1
        while true {
            let id = try startTransaction()
            let outcome = try runBody(body, XenStoreTransaction(connection: self, id: id))
            let failure: XenStoreError?
            switch outcome {
            case .success: failure = commit(id)
            case .failure(let e): failure = e
            }
            if let failure {
                guard failure.code == .tryAgain else { throw failure }
                guard attempt < policy.maxAttempts else {
                    throw XenStoreError(.retriesExhausted, .transactionEnd,
                                        detail: "conflicted \(attempt) times in a row (EAGAIN)")
                }
                attempt += 1
                usleep(policy.delay(beforeAttempt: attempt))
                continue
            }
            if case .success(let result) = outcome { return result }
        }
    }
}

extension XenStoreConnection {
    /// Runs the closure; when it throws, aborts the transaction and rethrows
    /// the closure's error (an abort that fails, say on a lost connection,
    /// must not hide it) — except `EAGAIN`, which the closure may throw to say
    /// its view is inconsistent (a node listed, then gone): that is returned,
    /// to be retried like a conflict at commit.
    private func runBody<T>(_ body: (XenStoreTransaction) throws -> T, _ tx: XenStoreTransaction) throws -> Result<T, XenStoreError> {
        do {
            return .success(try body(tx))
        } catch {
            try? endTransaction(tx.id, commit: false)
            if let e = error as? XenStoreError, e.code == .tryAgain { return .failure(e) }
            throw error
        }
    }

    private func commit(_ id: XenStoreTransactionID) -> XenStoreError? {
        do {
            try endTransaction(id, commit: true)
            return nil
        } catch {
            return error
        }
    }
}
