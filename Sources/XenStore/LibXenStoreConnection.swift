import CXenStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A connection to a real XenStore daemon through libxenstore.
///
/// This is the only file that calls `xs_*`. The socket is the one libxenstore
/// picks: `XENSTORED_PATH` when set, else the daemon's default; socket
/// connections are privileged (they act as dom0). Watch events are read on a
/// thread of their own that waits on `xs_fileno`, so no caller ever blocks
/// waiting for an event it did not ask for.
///
/// **A daemon that goes away.** libxenstore's own reader closes the socket
/// when the daemon hangs up, but tells no watcher: `xs_fileno` just stays
/// silent. So while watches are registered, the event thread asks the daemon
/// something cheap (`XS_IS_DOMAIN_INTRODUCED` of dom0) after each
/// `livenessInterval` without events. A request that fails at the socket
/// level, that one or any caller's, marks the connection lost: every watch
/// ends (so iterations end, and a watcher can reconnect) and every later call
/// fails `.unreachable` without touching the socket.
public final class LibXenStoreConnection: XenStoreConnection {
    public let domain = DomID.dom0
    /// The socket this connection was opened on, for messages.
    public let socketPath: String

    /// How long the event thread waits without events before it checks that
    /// the daemon is still there (only while watches are registered).
    public static let livenessInterval = Duration.seconds(1)

    /// The handle, nil once closed. Every call holds this lock: libxenstore
    /// serialises requests on a handle anyway, and the lock is what makes
    /// `close()` safe against a call in flight.
    private let handle: Mutex<Handle?>

    /// `struct xs_handle *`; libxenstore's handles may be used from any thread.
    private struct Handle: @unchecked Sendable {
        let raw: OpaquePointer
        /// Why the daemon is known to be gone, once it is: the socket is
        /// closed under libxenstore and never comes back.
        var lost: String?
    }
    private struct Registered: Sendable {
        let path: XenStorePath
        let queue: WatchQueue
    }
    private let watches = Mutex<[String: Registered]>([:])
    private let watchSerial = Atomic<UInt64>(0)
    private let reader = Mutex<WatchReader?>(nil)

    /// Serialises `setenv` + `xs_open` when a socket is named explicitly.
    private static let environmentLock = Mutex(())

    /// Opens the daemon's socket: `socketPath`, else `XENSTORED_PATH`, else
    /// libxenstore's default (`/var/run/xenstored/socket`, then `/dev/xen/xenbus`).
    public init(socketPath requested: String? = nil) throws(XenStoreError) {
        let opened: (OpaquePointer?, Int32, String) = Self.environmentLock.withLock { _ in
            let previous = getenv("XENSTORED_PATH").map { String(cString: $0) }
            if let requested { setenv("XENSTORED_PATH", requested, 1) }
            defer {
                if requested != nil {
                    if let previous { setenv("XENSTORED_PATH", previous, 1) } else { unsetenv("XENSTORED_PATH") }
                }
            }
            let where_ = String(cString: xs_daemon_socket())
            let h = xs_open(UInt(XS_UNWATCH_FILTER))
            return (h, errno, where_)
        }
        socketPath = opened.2
        guard let h = opened.0 else {
            throw XenStoreError(.unreachable, .connect, path: opened.2,
                                detail: "no XenStore daemon answered: \(String(cString: strerror(opened.1)))")
        }
        handle = Mutex(Handle(raw: h))
    }

    deinit { close() }

    public func close() {
        reader.withLock { r in
            r?.stop()
            r = nil
        }
        handle.withLock { h in
            if let open = h { xs_close(open.raw) }
            h = nil
        }
        endWatches()
    }

    /// Ends every watch's sequence. They leave the table first, so their
    /// termination handlers (which `finish` runs at once) send no `XS_UNWATCH`.
    private func endWatches() {
        let ended = watches.withLock { w in
            defer { w = [:] }
            return Array(w.values)
        }
        for r in ended { r.queue.finish() }
    }

    /// Runs one libxenstore call; a false/NULL result becomes the typed error
    /// for the errno it left. `body` returns nil for failure. A socket-level
    /// failure means the daemon is gone for good: the connection is marked
    /// lost and its watches end.
    private func call<T>(_ op: XenStoreError.Operation, _ path: XenStorePath?,
                         _ body: (OpaquePointer) -> T?) throws(XenStoreError) -> T {
        var newlyLost = false
        let result: Result<T, XenStoreError> = handle.withLock { h in
            guard let open = h else {
                return .failure(XenStoreError(.unreachable, op, path: path?.rawValue, detail: "connection closed"))
            }
            if let lost = open.lost {
                return .failure(XenStoreError(.unreachable, op, path: path?.rawValue, detail: lost))
            }
            errno = 0
            if let value = body(open.raw) { return .success(value) }
            let e = errno
            let code = XenStoreError.Code(errno: e)
            let detail = code == .ioError || code == .unreachable ? String(cString: strerror(e)) : nil
            if code == .unreachable {
                h!.lost = "the daemon went away (\(detail!))"
                newlyLost = true
            }
            return .failure(XenStoreError(code, op, path: path?.rawValue, detail: detail))
        }
        if newlyLost { endWatches() }
        return try result.get()
    }

    public func read(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [UInt8] {
        try call(.read, path) { h in
            var length: UInt32 = 0
            guard let p = xs_read(h, transaction.rawValue, path.rawValue, &length) else { return nil }
            defer { free(p) }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(length)))
        }
    }

    public func write(_ path: XenStorePath, _ value: [UInt8], transaction: XenStoreTransactionID) throws(XenStoreError) {
        try call(.write, path) { h in
            value.withUnsafeBytes { xs_write(h, transaction.rawValue, path.rawValue, $0.baseAddress, UInt32($0.count)) }
                ? () : nil
        }
    }

    public func mkdir(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) {
        try call(.mkdir, path) { h in xs_mkdir(h, transaction.rawValue, path.rawValue) ? () : nil }
    }

    public func remove(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) {
        try call(.rm, path) { h in xs_rm(h, transaction.rawValue, path.rawValue) ? () : nil }
    }

    /// `xs_directory`, which falls back to `XS_DIRECTORY_PART` when the list
    /// does not fit one reply.
    public func directory(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [XenStoreNodeName] {
        try call(.directory, path) { h in
            var count: UInt32 = 0
            guard let list = xs_directory(h, transaction.rawValue, path.rawValue, &count) else { return nil }
            defer { free(list) }
            return (0..<Int(count)).compactMap { i in list[i].map { XenStoreNodeName(unchecked: String(cString: $0)) } }
        }
    }

    /// `xs_get_permissions`.
    public func permissions(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> XenStorePermissions {
        let raw: [(UInt32, UInt32)] = try call(.getPermissions, path) { h in
            var count: UInt32 = 0
            guard let p = xs_get_permissions(h, transaction.rawValue, path.rawValue, &count) else { return nil }
            defer { free(p) }
            return (0..<Int(count)).map { (p[$0].id, p[$0].perms) }
        }
        func entry(_ r: (UInt32, UInt32)) throws(XenStoreError) -> XenStorePermissions.Entry {
            let access: XenStoreAccess = switch r.1 & 3 {
            case 1: .read
            case 2: .write
            case 3: .both
            default: .none
            }
            guard r.0 <= UInt32(DomID.maxValue) else {
                throw XenStoreError(.invalidReply, .getPermissions, path: path.rawValue, detail: "domain id \(r.0)")
            }
            return XenStorePermissions.Entry(DomID(unchecked: UInt16(r.0)), access)
        }
        guard let first = raw.first else {
            throw XenStoreError(.invalidReply, .getPermissions, path: path.rawValue, detail: "empty permission list")
        }
        let head = try entry(first)
        var rest: [XenStorePermissions.Entry] = []
        for r in raw.dropFirst() { rest.append(try entry(r)) }
        return XenStorePermissions(owner: head.domain, others: head.access, entries: rest)
    }

    /// `xs_set_permissions`.
    public func setPermissions(_ path: XenStorePath, _ permissions: XenStorePermissions,
                               transaction: XenStoreTransactionID) throws(XenStoreError) {
        let all = [XenStorePermissions.Entry(permissions.owner, permissions.others)] + permissions.entries
        var raw = all.map { e in
            xs_permissions(id: UInt32(e.domain.rawValue),
                           perms: (e.access.canRead ? UInt32(XS_PERM_READ) : 0) | (e.access.canWrite ? UInt32(XS_PERM_WRITE) : 0))
        }
        try call(.setPermissions, path) { h in
            xs_set_permissions(h, transaction.rawValue, path.rawValue, &raw, UInt32(raw.count)) ? () : nil
        }
    }

    public func startTransaction() throws(XenStoreError) -> XenStoreTransactionID {
        try call(.transactionStart, nil) { h in
            let t = xs_transaction_start(h)
            return t == 0 ? nil : XenStoreTransactionID(t)
        }
    }

    public func endTransaction(_ transaction: XenStoreTransactionID, commit: Bool) throws(XenStoreError) {
        try call(.transactionEnd, nil) { h in xs_transaction_end(h, transaction.rawValue, !commit) ? () : nil }
    }

    /// `xs_watch`; the events arrive through the reader thread.
    public func watch(_ path: XenStorePath, queueLimit: Int) throws(XenStoreError) -> XenStoreWatch {
        let token = WatchToken.make(watchSerial.add(1, ordering: .relaxed).newValue)
        let queue = WatchQueue(limit: queueLimit)
        try startReader()
        // Registered before XS_WATCH, so the registration event finds its queue.
        watches.withLock { $0[token] = Registered(path: path, queue: queue) }
        do {
            try call(.watch, path) { h in xs_watch(h, path.rawValue, token) ? () : nil }
        } catch {
            _ = watches.withLock { $0.removeValue(forKey: token) }
            throw error
        }
        return XenStoreWatch(path: path, token: token, queue: queue) { [weak self] in self?.unwatch(token) }
    }

    private func unwatch(_ token: String) {
        guard let r = watches.withLock({ $0.removeValue(forKey: token) }) else { return }
        _ = try? call(.unwatch, r.path) { h in xs_unwatch(h, r.path.rawValue, token) ? () : nil }
        r.queue.finish()
    }

    private func startReader() throws(XenStoreError) {
        let fd: Int32 = try call(.watch, nil) { h in
            let fd = xs_fileno(h)
            return fd < 0 ? nil : fd
        }
        let failure: XenStoreError? = reader.withLock { (r) -> XenStoreError? in
            guard r == nil else { return nil }
            let (seconds, attoseconds) = Self.livenessInterval.components
            let idle: WatchReader.Idle = (Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000),
                                          { [weak self] in self?.isAlive() ?? false })
            do throws(XenStoreError) {
                r = try WatchReader(fd: fd, idle: idle) { [weak self] in self?.drainEvents() }
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// The event thread's look after a quiet `livenessInterval`: false (and
    /// the thread ends) once the connection is closed or lost. Without
    /// watches there is nobody to tell, so it asks nothing.
    private func isAlive() -> Bool {
        if !watches.withLock({ $0.isEmpty }) {
            // A socket-level failure marks the connection lost and ends the watches (`call`).
            _ = try? isDomainIntroduced(.dom0)
        }
        return handle.withLock { $0.map { $0.lost == nil } ?? false }
    }

    /// Takes every queued event without blocking (`xs_check_watch`) and hands
    /// each to its watch's stream. Events with paths that do not parse are
    /// dropped: garbage from the daemon must not crash a reader.
    private func drainEvents() {
        while true {
            let event: (String, String)?? = handle.withLock { h in
                guard let h else { return .some(nil) }
                guard let vec = xs_check_watch(h.raw) else { return nil }
                defer { free(vec) }
                return (String(cString: vec[Int(XS_WATCH_PATH.rawValue)]!), String(cString: vec[Int(XS_WATCH_TOKEN.rawValue)]!))
            }
            guard let some = event, let (path, token) = some else { return }
            guard let p = try? XenStorePath(path), let r = watches.withLock({ $0[token] }) else { continue }
            if !r.queue.offer(XenStoreWatchEvent(path: p, token: token)) { unwatch(token) }
        }
    }

    /// `xs_introduce_domain`. A real daemon needs the domain's ring page (as an
    /// mfn/grant) and event channel; the test daemon's stand-ins accept any.
    public func introduceDomain(_ domain: DomID, mfn: UInt, eventChannel: UInt32) throws(XenStoreError) {
        try call(.introduce, nil) { h in xs_introduce_domain(h, UInt32(domain.rawValue), mfn, eventChannel) ? () : nil }
    }

    public func introduceDomain(_ domain: DomID) throws(XenStoreError) {
        try introduceDomain(domain, mfn: 0, eventChannel: 1)
    }

    public func releaseDomain(_ domain: DomID) throws(XenStoreError) {
        try call(.release, nil) { h in xs_release_domain(h, UInt32(domain.rawValue)) ? () : nil }
    }

    /// `xs_is_domain_introduced`. It answers `false` both for "not introduced"
    /// and for a failed request; errno tells them apart (the daemon answers
    /// "F" without setting one).
    public func isDomainIntroduced(_ domain: DomID) throws(XenStoreError) -> Bool {
        try call(.isDomainIntroduced, nil) { h in
            xs_is_domain_introduced(h, UInt32(domain.rawValue)) ? true : (errno == 0 ? false : nil)
        }
    }
}
