import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An engine served on a unix socket, as xenstored serves its own.
///
/// Every client is dom0 (the socket is privileged, as `/run/xenstored/socket`
/// is) and gets a `XenStoreServerSession`. Each client has a thread that
/// reads, answers and writes; the engine's lock is never held while a socket
/// is written, so a client that stops reading slows nobody else, and one that
/// falls `outputLimit` bytes behind is dropped. A malformed stream closes that
/// client only.
public final class XenStoreServer: Sendable {
    public let socketPath: String
    private let engine: XenStoreEngine
    private let listener: Int32
    private let outputLimit: Int
    private let clients = Mutex<[ObjectIdentifier: Client]>([:])
    private let running = DispatchGroup()
    private let accepted = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// Clients served since start, for logs and tests.
    public var clientsServed: Int { accepted.load(ordering: .relaxed) }
    public var clientsConnected: Int { clients.withLock { $0.count } }

    /// Binds `socketPath` (mode 0600). A stale socket left by a dead server
    /// is replaced; a live one, or any other kind of file, is an error.
    public init(engine: XenStoreEngine, socketPath: String, outputLimit: Int = 16 << 20) throws(XenStoreError) {
        func failure(_ what: String, _ e: Int32 = errno, code: XenStoreError.Code = .ioError) -> XenStoreError {
            XenStoreError(code, .serve, path: socketPath, detail: "\(what): \(String(cString: strerror(e)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard socketPath.utf8.count < capacity, !socketPath.isEmpty else {
            throw XenStoreError(.invalidArgument, .serve, path: socketPath, detail: "a socket path is 1…\(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { dst in
            for (i, b) in socketPath.utf8.enumerated() { dst[i] = b }
        }
        var st = stat()
        if lstat(socketPath, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw XenStoreError(.alreadyExists, .serve, path: socketPath, detail: "exists and is not a socket")
            }
            if Self.answers(&address) {
                throw XenStoreError(.busy, .serve, path: socketPath, detail: "another server is listening there")
            }
            unlink(socketPath)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { let e = errno; Glibc.close(fd); throw failure("bind", e) }
        guard chmod(socketPath, 0o600) == 0, listen(fd, 64) == 0 else {
            let e = errno; Glibc.close(fd); unlink(socketPath); throw failure("listen", e)
        }
        self.socketPath = socketPath
        self.engine = engine
        self.listener = fd
        self.outputLimit = outputLimit
        running.enter()
        Self.spawn { [self] in
            acceptLoop()
            running.leave()
        }
    }

    private static func answers(_ address: inout sockaddr_un) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { Glibc.close(probe) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    /// Waits until the calling task is cancelled, then `stop()`s. The
    /// server accepts clients from `init` on, on threads of its own: a
    /// client in this process may block on a reply without starving it.
    public func run() async {
        let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                waiter.withLock { $0 = c }
                if Task.isCancelled { waiter.withLock { $0.take() }?.resume() }
            }
        } onCancel: {
            waiter.withLock { $0.take() }?.resume()
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Self.spawn { [self] in
                stop()
                done.resume()
            }
        }
    }

    /// Stops accepting, disconnects every client (their watches and
    /// transactions end, as when xenstored closes a socket), waits for their
    /// threads and removes the socket file. Later calls do nothing.
    public func stop() {
        let first = clients.withLock { _ in !stopped.exchange(true, ordering: .acquiringAndReleasing) }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        for c in clients.withLock({ Array($0.values) }) { c.hangUp() }
        running.wait()
        Glibc.close(listener)
        unlink(socketPath)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE { continue }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            accepted.add(1, ordering: .relaxed)
            guard let client = Client(fd: fd, engine: engine, outputLimit: outputLimit) else { Glibc.close(fd); continue }
            let key = ObjectIdentifier(client)
            // Under the lock `stop()` reads the clients with: a client is
            // either seen (and hung up) by it, or never served.
            let admitted = clients.withLock { (map) -> Bool in
                guard !stopped.load(ordering: .acquiring) else { return false }
                map[key] = client
                return true
            }
            guard admitted else { client.hangUp(); client.serveNothing(); return }
            running.enter()
            Self.spawn { [self] in
                client.serve()
                clients.withLock { $0[key] = nil }
                running.leave()
            }
        }
    }

    /// A detached thread: client threads block in `poll`, which must not
    /// happen on the cooperative pool.
    private static func spawn(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body))
        if pthread_create(&t, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box.toOpaque()) == 0 {
            pthread_detach(t)
        } else {
            box.takeRetainedValue().body()
        }
    }

    /// One connected client: its socket, a wake-up pipe for output queued by
    /// other threads, and its session.
    final class Client: Sendable {
        let fd: Int32
        let wake: (read: Int32, write: Int32)
        let outputLimit: Int
        private let outbox = Mutex<(bytes: [UInt8], overflow: Bool)>(([], false))
        private let session = Mutex<XenStoreServerSession?>(nil)
        /// Guards `fd` against a hang-up after close, when the number may
        /// already name someone else's file.
        private let closed = Mutex(false)

        init?(fd: Int32, engine: XenStoreEngine, outputLimit: Int) {
            var p: [Int32] = [0, 0]
            guard pipe(&p) == 0 else { return nil }
            for end in p {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            }
            self.fd = fd
            self.wake = (p[0], p[1])
            self.outputLimit = outputLimit
            let s = XenStoreServerSession(engine: engine) { [weak self] bytes in self?.queue(bytes) }
            session.withLock { $0 = s }
        }

        private func queue(_ bytes: [UInt8]) {
            outbox.withLock { o in
                if o.bytes.count + bytes.count > outputLimit { o.overflow = true } else { o.bytes.append(contentsOf: bytes) }
            }
            // A full pipe is fine: it is readable, which is all that matters.
            var one: UInt8 = 1
            _ = Glibc.write(wake.write, &one, 1)
        }

        func hangUp() { closed.withLock { if !$0 { _ = shutdown(fd, Int32(SHUT_RDWR)) } } }

        /// Releases what a client holds without serving it.
        func serveNothing() {
            let s = session.withLock { s in defer { s = nil }; return s }
            s?.close()
            closed.withLock { $0 = true; _ = Glibc.close(fd) }
            Glibc.close(wake.read)
            Glibc.close(wake.write)
        }

        func serve() {
            defer { serveNothing() }
            guard let s = session.withLock({ $0 }) else { return }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; return }
                if fds[1].revents != 0 {
                    var drain = [UInt8](repeating: 0, count: 256)
                    while drain.withUnsafeMutableBytes({ Glibc.read(wake.read, $0.baseAddress, $0.count) }) > 0 {}
                }
                if fds[0].revents != 0 {
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return }
                    do throws(XenStoreError) {
                        try s.receive(buffer[..<n])
                    } catch {
                        _ = flush()
                        return
                    }
                }
                guard flush() else { return }
            }
        }

        /// Writes what is queued; false when the client is gone or too far behind.
        private func flush() -> Bool {
            let (bytes, overflow) = outbox.withLock { o in defer { o.bytes = [] }; return (o.bytes, o.overflow) }
            if overflow { return false }
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                if n < 0 { if errno == EINTR { continue }; return false }
                sent += n
            }
            return true
        }
    }
}
