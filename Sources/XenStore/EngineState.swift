/// The embedded engine's data and rules, guarded by `XenStoreEngine`'s lock.
///
/// Each operation follows cxenstored 4.17 (`xenstored_core.c`,
/// `xenstored_transaction.c`, `xenstored_watch.c`) step by step where the
/// result is observable by a client: which node is looked up first (that decides
/// `ENOENT` vs `EACCES` and what a transaction will be checked on), which nodes
/// fire which watches, and in which order.
struct EngineState: Sendable {
    typealias ConnectionID = UInt64
    static let noGeneration = UInt64.max

    struct Watch: Sendable {
        var path: String
        var token: String
        var sink: WatchSink
    }

    /// Where a watch's events go: an in-process stream, or a served client's
    /// socket. Called under the engine's lock, so it must only queue.
    struct WatchSink: Sendable {
        /// False when the watcher's queue is full: the engine then drops the
        /// watch, as it would on `XS_UNWATCH`, and finishes it after the lock.
        let deliver: @Sendable (XenStoreWatchEvent) -> Bool
        let finish: @Sendable () -> Void

        init(deliver: @escaping @Sendable (XenStoreWatchEvent) -> Bool, finish: @escaping @Sendable () -> Void) {
            self.deliver = deliver
            self.finish = finish
        }

        init(_ queue: WatchQueue) {
            self.init(deliver: { queue.offer($0) }, finish: { queue.finish() })
        }
    }

    struct Access: Sendable {
        /// Generation at first access (`noGeneration` when absent then).
        var generation: UInt64
        /// Only reads arm the conflict check; in practice every write reads first.
        var checkGeneration: Bool
        /// The transaction's view of the node; nil when absent or deleted.
        var view: EngineNode?
        var modified = false
        var fireWatch = false
        var watchExact = true
        /// Permissions before the transaction touched it, so a watcher that
        /// loses access still hears about the change.
        var originalPermissions: XenStorePermissions?
    }

    struct Transaction: Sendable {
        var connection: ConnectionID
        var accessed: [String: Access] = [:]
        var order: [String] = []
        /// Node count changes per owner, applied at commit.
        var entryDelta: [DomID: Int] = [:]
    }

    struct Connection: Sendable {
        var domain: DomID
        var watches: [Watch] = []
        var transactions: Set<UInt32> = []
        var nextTransaction: UInt32 = 1
    }

    /// Who is asking, and in which transaction.
    struct Context {
        var connection: ConnectionID
        var domain: DomID
        var transaction: UInt32?
        var privileged: Bool { domain == .dom0 }
    }

    var quotas: XenStoreQuotas
    var nodes: [String: EngineNode]
    var generation: UInt64
    var entries: [DomID: Int] = [:]
    var connections: [ConnectionID: Connection] = [:]
    var transactions: [UInt32: Transaction] = [:]
    var nextTransactionKey: UInt32 = 1
    var introduced: Set<DomID> = [.dom0]
    /// Watch streams that ended while the lock was held; finished after it is
    /// released, because finishing runs `onTermination`, which takes the lock.
    var finished: [WatchSink] = []
    var nextConnection: ConnectionID = 1
    var specialPermissions: [String: XenStorePermissions] = [
        XenStorePath.releaseDomain.rawValue: .dom0Only,
        XenStorePath.introduceDomain.rawValue: .dom0Only,
    ]

    /// A store as cxenstored starts it: `/`, `/tool`, `/tool/xenstored`, owned by dom0.
    init(quotas: XenStoreQuotas) {
        self.quotas = quotas
        generation = 3
        nodes = [
            "/": EngineNode(value: [], permissions: .dom0Only, children: ["tool"], generation: 0),
            "/tool": EngineNode(value: [], permissions: .dom0Only, children: ["xenstored"], generation: 1),
            "/tool/xenstored": EngineNode(value: [], permissions: .dom0Only, children: [], generation: 2),
        ]
        recountEntries()
    }

    mutating func recountEntries() {
        entries = [:]
        for node in nodes.values { entries[node.permissions.owner, default: 0] += 1 }
    }

    // MARK: - Paths

    static func parent(of path: String) -> String {
        let slash = path.lastIndex(of: "/")!
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func basename(_ path: String) -> String {
        String(path[path.index(after: path.lastIndex(of: "/")!)...])
    }

    static func child(_ parent: String, _ name: String) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }

    /// `is_valid_nodename`'s length rule: the quota counts what follows `/local/domain/<id>/`.
    func isValidNodePath(_ path: String) -> Bool {
        guard path.utf8.first == UInt8(ascii: "/") else { return false }
        var localOffset = 0
        let prefix = "/local/domain/"
        if path.hasPrefix(prefix) {
            let rest = path.utf8.dropFirst(prefix.utf8.count)
            let digits = rest.prefix { $0 >= 48 && $0 <= 57 }
            if (1...5).contains(digits.count), rest.dropFirst(digits.count).first == UInt8(ascii: "/") {
                localOffset = prefix.utf8.count + digits.count + 1
            }
        }
        return path.utf8.count <= localOffset + quotas.pathLength
    }

    // MARK: - Permissions

    struct Rights: OptionSet {
        let rawValue: UInt8
        static let read = Rights(rawValue: 1)
        static let write = Rights(rawValue: 2)
        static let owner = Rights(rawValue: 8)
        static let all: Rights = [.read, .write, .owner]
    }

    /// `perm_for_conn`.
    static func rights(_ ctx: Context, _ p: XenStorePermissions) -> Rights {
        if ctx.privileged || p.owner == ctx.domain { return .all }
        let access = p.entries.first(where: { $0.domain == ctx.domain })?.access ?? p.others
        var r: Rights = []
        if access.canRead { r.insert(.read) }
        if access.canWrite { r.insert(.write) }
        return r
    }

    // MARK: - Node access (the transaction-aware primitives)

    /// `read_node`: the node as this context sees it, recording the access in a transaction.
    mutating func readNode(_ path: String, _ ctx: Context) throws(XenStoreError.Code) -> EngineNode? {
        guard let t = ctx.transaction else { return nodes[path] }
        if let a = transactions[t]!.accessed[path] { return a.view }
        let current = nodes[path]
        try recordAccess(t, path, ctx, Access(
            generation: current?.generation ?? Self.noGeneration, checkGeneration: true, view: current,
            originalPermissions: current?.permissions))
        return current
    }

    private mutating func recordAccess(_ t: UInt32, _ path: String, _ ctx: Context, _ a: Access) throws(XenStoreError.Code) {
        if !ctx.privileged && transactions[t]!.order.count >= quotas.nodesPerTransaction { throw .noSpace }
        transactions[t]!.accessed[path] = a
        transactions[t]!.order.append(path)
    }

    /// `write_node`: stores (or, with nil, deletes) the node in the context's view.
    mutating func storeNode(_ path: String, _ node: EngineNode?, _ ctx: Context, quotaCheck: Bool = true) throws(XenStoreError.Code) {
        if let node, quotaCheck, !ctx.privileged, node.recordSize >= quotas.entrySize { throw .noSpace }
        guard let t = ctx.transaction else {
            apply(path, node)
            return
        }
        if transactions[t]!.accessed[path] == nil {
            let current = nodes[path]
            try recordAccess(t, path, ctx, Access(
                generation: current?.generation ?? Self.noGeneration, checkGeneration: false, view: current,
                originalPermissions: current?.permissions))
        }
        let old = transactions[t]!.accessed[path]!.view
        if let old { transactions[t]!.entryDelta[old.permissions.owner, default: 0] -= 1 }
        if let node { transactions[t]!.entryDelta[node.permissions.owner, default: 0] += 1 }
        transactions[t]!.accessed[path]!.view = node
        transactions[t]!.accessed[path]!.modified = true
    }

    /// Changes the global store: a new generation for a written node, accounting by owner.
    mutating func apply(_ path: String, _ node: EngineNode?) {
        if let old = nodes[path] { entries[old.permissions.owner, default: 0] -= 1 }
        if var node {
            generation += 1
            node.generation = generation
            entries[node.permissions.owner, default: 0] += 1
            nodes[path] = node
        } else {
            nodes[path] = nil
        }
    }

    func ownedEntries(_ ctx: Context) -> Int {
        let delta = ctx.transaction.flatMap { transactions[$0]?.entryDelta[ctx.domain] } ?? 0
        return entries[ctx.domain, default: 0] + delta
    }

    // MARK: - Lookups with permission (get_node / errno_from_parents)

    mutating func getNode(_ path: String, _ ctx: Context, _ need: Rights) throws(XenStoreError.Code) -> EngineNode? {
        guard isValidNodePath(path) else { throw .invalidArgument }
        if let node = try readNode(path, ctx) {
            if Self.rights(ctx, node.permissions).isSuperset(of: need) { return node }
            throw try errnoFromParents(path, ctx, .accessDenied, need)
        }
        throw try errnoFromParents(path, ctx, .notFound, need)
    }

    /// Hides whether a node exists from a domain that may not look at its parent.
    mutating func errnoFromParents(_ path: String, _ ctx: Context, _ code: XenStoreError.Code,
                                   _ need: Rights) throws(XenStoreError.Code) -> XenStoreError.Code {
        var p = path
        repeat {
            p = Self.parent(of: p)
            if let node = try readNode(p, ctx) {
                return Self.rights(ctx, node.permissions).isDisjoint(with: need) ? .accessDenied : code
            }
        } while p != "/"
        return .accessDenied
    }

    /// Like `getNode` but a missing node is `nil`, for operations that create it.
    mutating func getNodeOrAbsent(_ path: String, _ ctx: Context, _ need: Rights) throws(XenStoreError.Code) -> EngineNode? {
        do {
            return try getNode(path, ctx, need)
        } catch .notFound {
            return nil
        }
    }

    // MARK: - Operations

    mutating func read(_ path: String, _ ctx: Context) throws(XenStoreError.Code) -> [UInt8] {
        try getNode(path, ctx, .read)!.value
    }

    mutating func directory(_ path: String, _ ctx: Context) throws(XenStoreError.Code) -> [String] {
        try getNode(path, ctx, .read)!.children
    }

    mutating func permissions(_ path: String, _ ctx: Context) throws(XenStoreError.Code) -> XenStorePermissions {
        try getNode(path, ctx, .read)!.permissions
    }

    mutating func write(_ path: String, _ value: [UInt8], _ ctx: Context) throws(XenStoreError.Code) {
        if var node = try getNodeOrAbsent(path, ctx, .write) {
            node.value = value
            try storeNode(path, node, ctx)
        } else {
            try create(path, value, ctx)
        }
        fireWatches(path, exact: false, ctx)
    }

    mutating func mkdir(_ path: String, _ ctx: Context) throws(XenStoreError.Code) {
        if try getNodeOrAbsent(path, ctx, .write) != nil { return }
        try create(path, [], ctx)
        fireWatches(path, exact: false, ctx)
    }

    /// `construct_node` + `create_node`: missing ancestors are made too, each
    /// inheriting its parent's permissions; an unprivileged creator owns them.
    /// Every check happens before the first store, so a refusal changes nothing.
    private mutating func create(_ path: String, _ value: [UInt8], _ ctx: Context) throws(XenStoreError.Code) {
        var missing = [path]
        var parentPath = Self.parent(of: path)
        var parent = try readNode(parentPath, ctx)
        while parent == nil {
            guard parentPath != "/" else { throw .ioError }
            missing.append(parentPath)
            parentPath = Self.parent(of: parentPath)
            parent = try readNode(parentPath, ctx)
        }
        if !ctx.privileged && ownedEntries(ctx) + missing.count > quotas.entriesPerDomain { throw .noSpace }

        var writes: [(String, EngineNode)] = []
        var above = parent!
        var abovePath = parentPath
        for p in missing.reversed() {
            above.children.append(Self.basename(p))
            writes.append((abovePath, above))
            var permissions = above.permissions
            if !ctx.privileged { permissions.owner = ctx.domain }
            above = EngineNode(value: p == path ? value : [], permissions: permissions, children: [], generation: 0)
            abovePath = p
        }
        writes.append((abovePath, above))
        if !ctx.privileged, writes.contains(where: { $0.1.recordSize >= quotas.entrySize }) { throw .noSpace }
        for (p, node) in writes.reversed() { try storeNode(p, node, ctx, quotaCheck: false) }
    }

    mutating func remove(_ path: String, _ ctx: Context) throws(XenStoreError.Code) {
        guard try getNodeOrAbsent(path, ctx, .write) != nil else {
            // Removing what is already gone is fine, as long as the parent is there.
            if try readNode(Self.parent(of: path), ctx) != nil { return }
            throw .notFound
        }
        if path == "/" { throw .invalidArgument }
        guard var parent = try readNode(Self.parent(of: path), ctx) else { throw .invalidArgument }
        try removeSubtree(path, root: path, ctx)
        parent.children.removeAll { $0 == Self.basename(path) }
        try storeNode(Self.parent(of: path), parent, ctx, quotaCheck: false)
    }

    /// Children first; the removed root fires watches at and above it, every
    /// descendant fires only watches set exactly on it (`delnode_sub`).
    private mutating func removeSubtree(_ path: String, root: String, _ ctx: Context) throws(XenStoreError.Code) {
        guard let node = try readNode(path, ctx) else { return }
        for name in node.children { try removeSubtree(Self.child(path, name), root: root, ctx) }
        fireWatches(path, exact: path != root, ctx, node: node)
        try storeNode(path, nil, ctx, quotaCheck: false)
    }

    mutating func setPermissions(_ path: String, _ p: XenStorePermissions, _ ctx: Context) throws(XenStoreError.Code) {
        if !ctx.privileged && 1 + p.entries.count > quotas.permissionsPerNode { throw .noSpace }
        // `domain_alloc_permrefs`: an owner the store has never heard of is refused.
        guard introduced.contains(p.owner) else { throw .notFound }
        if path.hasPrefix("@") {
            guard let current = specialPermissions[path] else { throw .invalidArgument }
            guard Self.rights(ctx, current).isSuperset(of: [.write, .owner]) else { throw .accessDenied }
            specialPermissions[path] = p
            return
        }
        guard var node = try getNode(path, ctx, [.write, .owner]) else { throw .notFound }
        if !ctx.privileged && p.owner != node.permissions.owner { throw .notPermitted }
        let old = node.permissions
        node.permissions = p
        try storeNode(path, node, ctx)
        fireWatches(path, exact: false, ctx, oldPermissions: old)
    }

    // MARK: - Transactions

    mutating func startTransaction(_ ctx: Context) throws(XenStoreError.Code) -> UInt32 {
        guard var conn = connections[ctx.connection] else { throw .ioError }
        if !ctx.privileged && conn.transactions.count >= quotas.transactionsPerDomain { throw .noSpace }
        let id = nextTransactionKey
        nextTransactionKey = nextTransactionKey == UInt32.max ? 1 : nextTransactionKey + 1
        conn.transactions.insert(id)
        connections[ctx.connection] = conn
        transactions[id] = Transaction(connection: ctx.connection)
        return id
    }

    /// Checks that the transaction is this connection's, for every operation naming it.
    func validate(_ t: UInt32, _ connection: ConnectionID) throws(XenStoreError.Code) {
        guard transactions[t]?.connection == connection else { throw .notFound }
    }

    mutating func endTransaction(_ t: UInt32, commit: Bool, _ ctx: Context) throws(XenStoreError.Code) {
        try validate(t, ctx.connection)
        let tx = transactions.removeValue(forKey: t)!
        connections[ctx.connection]?.transactions.remove(t)
        guard commit else { return }
        for path in tx.order {
            let a = tx.accessed[path]!
            if a.checkGeneration && (nodes[path]?.generation ?? Self.noGeneration) != a.generation {
                throw .tryAgain
            }
        }
        let global = Context(connection: ctx.connection, domain: ctx.domain, transaction: nil)
        for path in tx.order {
            let a = tx.accessed[path]!
            if a.modified { apply(path, a.view) }
        }
        for path in tx.order {
            let a = tx.accessed[path]!
            if a.fireWatch {
                fireWatches(path, exact: a.watchExact, global, node: nodes[path], oldPermissions: a.originalPermissions)
            }
        }
    }

    // MARK: - Watches

    mutating func addWatch(_ path: String, token: String, _ ctx: Context,
                           _ sink: WatchSink) throws(XenStoreError.Code) {
        if path.hasPrefix("@") {
            if path.utf8.count > XenStoreLimits.relativePathMax { throw .invalidArgument }
        } else if !isValidNodePath(path) {
            throw .invalidArgument
        }
        guard var conn = connections[ctx.connection] else { throw .ioError }
        if conn.watches.contains(where: { $0.path == path && $0.token == token }) { throw .alreadyExists }
        // cxenstored compares before counting the new one, so quota+1 watches fit.
        if !ctx.privileged && domainWatchCount(ctx.domain) > quotas.watchesPerDomain { throw .tooBig }
        conn.watches.append(Watch(path: path, token: token, sink: sink))
        connections[ctx.connection] = conn
        // A new queue holds at least one event: the registration always fits.
        _ = sink.deliver(XenStoreWatchEvent(path: XenStorePath(unchecked: path), token: token))
    }

    func domainWatchCount(_ domain: DomID) -> Int {
        connections.values.filter { $0.domain == domain }.reduce(0) { $0 + $1.watches.count }
    }

    mutating func removeWatch(_ path: String, token: String, _ connection: ConnectionID) throws(XenStoreError.Code) {
        guard let i = connections[connection]?.watches.firstIndex(where: { $0.path == path && $0.token == token })
        else { throw .notFound }
        finished.append(connections[connection]!.watches.remove(at: i).sink)
    }

    /// `fire_watches`. Inside a transaction the event is queued on the node and
    /// sent at commit; a non-exact request wins over an exact one.
    mutating func fireWatches(_ path: String, exact: Bool, _ ctx: Context,
                              node: EngineNode? = nil, oldPermissions: XenStorePermissions? = nil) {
        if let t = ctx.transaction {
            if transactions[t]!.accessed[path] != nil {
                if transactions[t]!.accessed[path]!.fireWatch {
                    if !exact { transactions[t]!.accessed[path]!.watchExact = false }
                } else {
                    transactions[t]!.accessed[path]!.fireWatch = true
                    transactions[t]!.accessed[path]!.watchExact = exact
                }
            }
            return
        }
        let special = path.hasPrefix("@")
        let subject = node ?? nodes[path]
        var overflowed: [(ConnectionID, Watch)] = []
        defer {
            for (id, w) in overflowed {
                connections[id]?.watches.removeAll { $0.path == w.path && $0.token == w.token }
                finished.append(w.sink)
            }
        }
        for (id, conn) in connections {
            let watcher = Context(connection: id, domain: conn.domain, transaction: nil)
            let matching = conn.watches.filter {
                exact ? $0.path == path : XenStorePath(unchecked: $0.path).contains(XenStorePath(unchecked: path))
            }
            if matching.isEmpty { continue }
            let permitted = special
                ? watcher.privileged || Self.rights(watcher, specialPermissions[path] ?? .dom0Only).contains(.read)
                : watchPermitted(watcher, path, subject, oldPermissions)
            guard permitted else { continue }
            for w in matching where !w.sink.deliver(XenStoreWatchEvent(path: XenStorePath(unchecked: path), token: w.token)) {
                overflowed.append((id, w))
            }
        }
    }

    /// `watch_permitted`: the node, or else its parent, must be readable.
    func watchPermitted(_ ctx: Context, _ path: String, _ node: EngineNode?, _ old: XenStorePermissions?) -> Bool {
        if ctx.privileged { return true }
        if let old, Self.rights(ctx, old).contains(.read) { return true }
        guard let node else { return false }
        if Self.rights(ctx, node.permissions).contains(.read) { return true }
        guard path != "/", let parent = nodes[Self.parent(of: path)] else { return false }
        return Self.rights(ctx, parent.permissions).contains(.read)
    }

    // MARK: - Domains and connections

    mutating func introduce(_ domain: DomID, _ ctx: Context) throws(XenStoreError.Code) {
        guard ctx.privileged else { throw .accessDenied }
        if introduced.insert(domain).inserted {
            fireWatches(XenStorePath.introduceDomain.rawValue, exact: true, ctx)
        }
    }

    /// The domain is gone: its connections close (their watches and
    /// transactions with them) and `@releaseDomain` fires.
    mutating func release(_ domain: DomID, _ ctx: Context) throws(XenStoreError.Code) {
        guard ctx.privileged else { throw .accessDenied }
        guard domain != .dom0 else { throw .invalidArgument }
        guard introduced.remove(domain) != nil else { throw .notFound }
        for (id, conn) in connections where conn.domain == domain { disconnect(id) }
        removeOrphans(of: domain, ctx)
        for (path, p) in specialPermissions {
            specialPermissions[path]!.entries = p.entries.filter { $0.domain != domain }
        }
        fireWatches(XenStorePath.releaseDomain.rawValue, exact: true, ctx)
    }

    /// `domain_tree_remove`: nodes the dead domain owned go, with their subtrees,
    /// so a later domain with the same id cannot inherit them.
    private mutating func removeOrphans(of domain: DomID, _ ctx: Context) {
        var stack = ["/"]
        while let path = stack.popLast() {
            guard let node = nodes[path] else { continue }
            if path != "/" && node.permissions.owner == domain {
                try? remove(path, ctx)
                continue
            }
            stack.append(contentsOf: node.children.reversed().map { Self.child(path, $0) })
        }
    }

    /// `XS_RESET_WATCHES`: cxenstored drops the connection's watches and its
    /// open transactions (a client that lost track of both starts over).
    mutating func resetWatches(_ id: ConnectionID) {
        guard var conn = connections[id] else { return }
        finished.append(contentsOf: conn.watches.map(\.sink))
        for t in conn.transactions { transactions[t] = nil }
        conn.watches = []
        conn.transactions = []
        connections[id] = conn
    }

    /// `XS_DIRECTORY_PART` needs the node's generation, so a client reading
    /// a long child list in pieces can tell that it changed in between.
    mutating func directoryWithGeneration(_ path: String, _ ctx: Context) throws(XenStoreError.Code) -> (UInt64, [String]) {
        guard let node = try getNode(path, ctx, .read) else { throw .notFound }
        return (node.generation, node.children)
    }

    mutating func disconnect(_ id: ConnectionID) {
        guard let conn = connections.removeValue(forKey: id) else { return }
        for t in conn.transactions { transactions[t] = nil }
        finished.append(contentsOf: conn.watches.map(\.sink))
    }
}
