import Synchronization

/// A connection to an in-process `XenStoreEngine`, acting as one domain.
final class EngineConnection: XenStoreConnection {
    let engine: XenStoreEngine
    let id: EngineState.ConnectionID
    let domain: DomID
    private let watchSerial = Atomic<UInt64>(0)

    init(engine: XenStoreEngine, id: EngineState.ConnectionID, domain: DomID) {
        self.engine = engine
        self.id = id
        self.domain = domain
    }

    deinit { close() }

    /// Runs `body` with this connection's context, after checking that the
    /// connection is open and the transaction (if any) is its own.
    private func run<T: Sendable>(_ op: XenStoreError.Operation, _ path: XenStorePath?, _ t: XenStoreTransactionID,
                        _ body: (inout EngineState, EngineState.Context) throws(XenStoreError.Code) -> T) throws(XenStoreError) -> T {
        let payload = (path?.rawValue.utf8.count ?? 0) + 1
        if payload > XenStoreLimits.payloadMax { throw XenStoreError(.tooBig, op, path: path?.rawValue) }
        let (id, domain) = (self.id, self.domain)
        return try engine.perform(op, path) { (st) throws(XenStoreError.Code) -> T in
            guard st.connections[id] != nil else { throw .unreachable }
            let ctx = EngineState.Context(connection: id, domain: domain,
                                          transaction: t == .none ? nil : t.rawValue)
            if let tx = ctx.transaction { try st.validate(tx, id) }
            return try body(&st, ctx)
        }
    }

    /// Node operations on `@…` paths are `EINVAL`, as in cxenstored.
    private func node(_ path: XenStorePath, _ op: XenStoreError.Operation) throws(XenStoreError) -> String {
        if path.isSpecial { throw XenStoreError(.invalidArgument, op, path: path.rawValue) }
        return path.rawValue
    }

    func read(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [UInt8] {
        let p = try node(path, .read)
        return try run(.read, path, transaction) { (st, ctx) throws(XenStoreError.Code) in try st.read(p, ctx) }
    }

    func write(_ path: XenStorePath, _ value: [UInt8], transaction: XenStoreTransactionID) throws(XenStoreError) {
        let p = try node(path, .write)
        // libxenstore refuses a message over the payload limit before sending it.
        if p.utf8.count + 1 + value.count > XenStoreLimits.payloadMax {
            throw XenStoreError(.tooBig, .write, path: p, detail: "path and value exceed \(XenStoreLimits.payloadMax) bytes")
        }
        try run(.write, path, transaction) { (st, ctx) throws(XenStoreError.Code) in try st.write(p, value, ctx) }
    }

    func mkdir(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) {
        let p = try node(path, .mkdir)
        try run(.mkdir, path, transaction) { (st, ctx) throws(XenStoreError.Code) in try st.mkdir(p, ctx) }
    }

    func remove(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) {
        let p = try node(path, .rm)
        try run(.rm, path, transaction) { (st, ctx) throws(XenStoreError.Code) in try st.remove(p, ctx) }
    }

    func directory(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> [XenStoreNodeName] {
        let p = try node(path, .directory)
        return try run(.directory, path, transaction) { (st, ctx) throws(XenStoreError.Code) in
            try st.directory(p, ctx).map { XenStoreNodeName(unchecked: $0) }
        }
    }

    func permissions(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> XenStorePermissions {
        let p = try node(path, .getPermissions)
        return try run(.getPermissions, path, transaction) { (st, ctx) throws(XenStoreError.Code) in
            try st.permissions(p, ctx)
        }
    }

    func setPermissions(_ path: XenStorePath, _ permissions: XenStorePermissions,
                        transaction: XenStoreTransactionID) throws(XenStoreError) {
        try run(.setPermissions, path, transaction) { (st, ctx) throws(XenStoreError.Code) in
            try st.setPermissions(path.rawValue, permissions, ctx)
        }
    }

    func startTransaction() throws(XenStoreError) -> XenStoreTransactionID {
        XenStoreTransactionID(try run(.transactionStart, nil, .none) { (st, ctx) throws(XenStoreError.Code) in
            try st.startTransaction(ctx)
        })
    }

    func endTransaction(_ transaction: XenStoreTransactionID, commit: Bool) throws(XenStoreError) {
        guard transaction != .none else { throw XenStoreError(.notFound, .transactionEnd) }
        try run(.transactionEnd, nil, .none) { (st, ctx) throws(XenStoreError.Code) in
            try st.endTransaction(transaction.rawValue, commit: commit, ctx)
        }
    }

    func watch(_ path: XenStorePath, queueLimit: Int) throws(XenStoreError) -> XenStoreWatch {
        try engine.followFile()
        let token = WatchToken.make(watchSerial.add(1, ordering: .relaxed).newValue)
        let queue = WatchQueue(limit: queueLimit)
        try run(.watch, path, .none) { (st, ctx) throws(XenStoreError.Code) in
            try st.addWatch(path.rawValue, token: token, ctx, EngineState.WatchSink(queue))
        }
        let (engine, id) = (self.engine, self.id)
        return XenStoreWatch(path: path, token: token, queue: queue) {
            _ = try? engine.perform(.unwatch, path) { (st) throws(XenStoreError.Code) in
                try st.removeWatch(path.rawValue, token: token, id)
            }
        }
    }

    // MARK: - For a served client, which names its own tokens

    func watch(_ path: XenStorePath, token: String, sink: EngineState.WatchSink) throws(XenStoreError) {
        try run(.watch, path, .none) { (st, ctx) throws(XenStoreError.Code) in
            try st.addWatch(path.rawValue, token: token, ctx, sink)
        }
    }

    func unwatch(_ path: XenStorePath, token: String) throws(XenStoreError) {
        let id = self.id
        try run(.unwatch, path, .none) { (st, _) throws(XenStoreError.Code) in
            try st.removeWatch(path.rawValue, token: token, id)
        }
    }

    func resetWatches() throws(XenStoreError) {
        let id = self.id
        try run(.resetWatches, nil, .none) { (st, _) throws(XenStoreError.Code) in st.resetWatches(id) }
    }

    func directoryWithGeneration(_ path: XenStorePath, transaction: XenStoreTransactionID) throws(XenStoreError) -> (UInt64, [String]) {
        let p = try node(path, .directory)
        return try run(.directory, path, transaction) { (st, ctx) throws(XenStoreError.Code) in
            try st.directoryWithGeneration(p, ctx)
        }
    }

    func introduceDomain(_ domain: DomID) throws(XenStoreError) {
        try run(.introduce, nil, .none) { (st, ctx) throws(XenStoreError.Code) in try st.introduce(domain, ctx) }
    }

    func releaseDomain(_ domain: DomID) throws(XenStoreError) {
        try run(.release, nil, .none) { (st, ctx) throws(XenStoreError.Code) in try st.release(domain, ctx) }
    }

    func isDomainIntroduced(_ domain: DomID) throws(XenStoreError) -> Bool {
        try run(.isDomainIntroduced, nil, .none) { (st, _) throws(XenStoreError.Code) in st.introduced.contains(domain) }
    }

    func close() {
        let id = self.id
        _ = try? engine.perform(.connect, nil) { (st) throws(XenStoreError.Code) in st.disconnect(id) }
    }
}
