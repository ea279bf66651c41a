import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An in-memory XenStore with cxenstored's semantics, optionally kept in a file.
///
/// `connect(as:)` hands out connections acting as a domain: dom0's are
/// privileged, others are held to permissions and `quotas`. With a file, every
/// operation runs under the file's lock, first picking up what other processes
/// committed (firing this process's watches for the nodes that changed) and,
/// when it changed something, writing the whole store back atomically.
public final class XenStoreEngine: Sendable {
    let state: Mutex<EngineState>
    let file: EngineFile?
    private let loaded: Mutex<EngineFile.Stamp?>
    /// Watches the store file's directory once a watch is registered, so
    /// commits by other processes fire this process's watches by themselves.
    private let fileWatcher = Mutex<WatchReader?>(nil)

    deinit {
        fileWatcher.withLock { $0?.stop() }
    }

    /// A store that lives as long as this object.
    public init(quotas: XenStoreQuotas = .cxenstored) {
        state = Mutex(EngineState(quotas: quotas))
        file = nil
        loaded = Mutex(nil)
    }

    /// A store kept in `path` (created on first write). A file that does not
    /// parse is an error, never silently replaced.
    public init(persistingTo path: String, quotas: XenStoreQuotas = .cxenstored) throws(XenStoreError) {
        let file = try EngineFile(path: path)
        self.file = file
        var initial = EngineState(quotas: quotas)
        let stamp: EngineFile.Stamp? = try file.locked { () throws(XenStoreError) -> EngineFile.Stamp? in
            guard let bytes = try file.load() else { return nil }
            initial.adopt(try EngineSnapshot(decoding: bytes))
            return file.stamp()
        }
        state = Mutex(initial)
        loaded = Mutex(stamp)
    }

    /// A new connection acting as `domain`.
    public func connect(as domain: DomID = .dom0) -> any XenStoreConnection {
        let id = state.withLock { st in
            let id = st.nextConnection
            st.nextConnection += 1
            st.connections[id] = EngineState.Connection(domain: domain)
            return id
        }
        return EngineConnection(engine: self, id: id, domain: domain)
    }

    /// Starts following the file (inotify on its directory: the store is
    /// replaced by `rename`), if there is one and it is not followed yet.
    func followFile() throws(XenStoreError) {
        guard let file else { return }
        let failure: XenStoreError? = fileWatcher.withLock { (w) -> XenStoreError? in
            guard w == nil else { return nil }
            let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
            guard fd >= 0 else { return XenStoreError(.ioError, .watch, path: file.path, detail: "inotify_init1 failed") }
            let slash = file.path.lastIndex(of: "/")
            let dir = slash.map { $0 == file.path.startIndex ? "/" : String(file.path[..<$0]) } ?? "."
            guard inotify_add_watch(fd, dir, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 else {
                close(fd)
                return XenStoreError(.ioError, .watch, path: dir, detail: "inotify_add_watch failed")
            }
            do throws(XenStoreError) {
                w = try WatchReader(fd: fd) { [weak self] in
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
                    // A no-op operation: taking the lock refreshes from the
                    // file and fires the watches for what changed.
                    _ = try? self?.perform(.watch, nil) { (_) throws(XenStoreError.Code) in () }
                }
                return nil
            } catch {
                close(fd)
                return error
            }
        }
        if let failure { throw failure }
    }

    /// The whole store in the engine's file format (what a persistent engine writes).
    public func snapshot() -> [UInt8] {
        state.withLock { $0.snapshot.encoded() }
    }

    /// Runs one operation under the lock(s); maps the engine's errno to a typed error.
    func perform<T: Sendable>(_ operation: XenStoreError.Operation, _ path: XenStorePath?,
                              _ body: (inout EngineState) throws(XenStoreError.Code) -> T) throws(XenStoreError) -> T {
        var outcome: Result<T, XenStoreError> = .failure(XenStoreError(.ioError, operation))
        var finished: [EngineState.WatchSink] = []
        state.withLock { st in
            if let file {
                outcome = file.locked { () -> Result<T, XenStoreError> in
                    do throws(XenStoreError) {
                        try refresh(&st, file)
                        let before = st.persistentRevision
                        let r = Self.run(operation, path, &st, body)
                        if st.persistentRevision != before {
                            try file.save(st.snapshot.encoded())
                            loaded.withLock { $0 = file.stamp() }
                        }
                        return r
                    } catch {
                        return .failure(error)
                    }
                }
            } else {
                outcome = Self.run(operation, path, &st, body)
            }
            finished = st.finished
            st.finished = []
        }
        for c in finished { c.finish() }
        return try outcome.get()
    }

    private static func run<T>(_ operation: XenStoreError.Operation, _ path: XenStorePath?, _ st: inout EngineState,
                               _ body: (inout EngineState) throws(XenStoreError.Code) -> T) -> Result<T, XenStoreError> {
        do {
            return .success(try body(&st))
        } catch {
            return .failure(XenStoreError(error, operation, path: path?.rawValue))
        }
    }

    /// Picks up another process's commit, if there was one since our last look.
    private func refresh(_ st: inout EngineState, _ file: EngineFile) throws(XenStoreError) {
        let now = file.stamp()
        guard now != loaded.withLock({ $0 }) else { return }
        if let bytes = try file.load() {
            st.adopt(try EngineSnapshot(decoding: bytes), notify: true)
        }
        loaded.withLock { $0 = now }
    }
}

extension EngineState {
    /// What a file holds; connections, watches and open transactions stay in memory.
    var snapshot: EngineSnapshot {
        EngineSnapshot(nodes: nodes, generation: generation, domains: introduced, specialPermissions: specialPermissions)
    }

    /// What a file keeps besides the nodes (whose every change moves `generation`).
    struct Revision: Equatable {
        var generation: UInt64
        var introduced: Set<DomID>
        var specialPermissions: [String: XenStorePermissions]
    }

    /// Changes only when something a file must keep changed.
    var persistentRevision: Revision {
        Revision(generation: generation, introduced: introduced, specialPermissions: specialPermissions)
    }

    /// Replaces the data with `snapshot`; with `notify`, fires what another
    /// process's changes would have fired here: every node created, removed or
    /// given a new value or permissions (a parent whose child list alone
    /// changed is silent, as in cxenstored); below a removed node only exact
    /// watches hear of it. A domain another process introduced or released
    /// fires `@introduceDomain` or `@releaseDomain` here too, so a process
    /// that reaps dead domains on the file store hears of them.
    mutating func adopt(_ snapshot: EngineSnapshot, notify: Bool = false) {
        let old = nodes
        let wasIntroduced = introduced
        nodes = snapshot.nodes
        generation = max(generation, snapshot.generation)
        introduced = snapshot.domains
        specialPermissions.merge(snapshot.specialPermissions) { $1 }
        recountEntries()
        guard notify else { return }
        let ctx = Context(connection: 0, domain: .dom0, transaction: nil)
        for path in Set(old.keys).union(nodes.keys).sorted() {
            let before = old[path], after = nodes[path]
            if before?.generation == after?.generation { continue }
            if let before, let after, before.value == after.value, before.permissions == after.permissions { continue }
            let parentGone = path != "/" && after == nil && nodes[Self.parent(of: path)] == nil
            fireWatches(path, exact: parentGone, ctx, node: after ?? before, oldPermissions: before?.permissions)
        }
        if !introduced.subtracting(wasIntroduced).isEmpty {
            fireWatches(XenStorePath.introduceDomain.rawValue, exact: true, ctx)
        }
        let released = wasIntroduced.subtracting(introduced)
        if !released.isEmpty {
            // As `release` does: the dead domain's connections here end too.
            for (id, conn) in connections where released.contains(conn.domain) { disconnect(id) }
            fireWatches(XenStorePath.releaseDomain.rawValue, exact: true, ctx)
        }
    }
}
