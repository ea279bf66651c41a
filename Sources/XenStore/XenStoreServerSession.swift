import Synchronization

/// One client of a served engine: bytes in, messages out, no I/O.
///
/// It answers each request as cxenstored 4.17 does (same errno names, the
/// same payload formats, relative paths below `/local/domain/<domid>`), so
/// libxenstore, the `xenstore-*` tools and pyxs work against it. Replies and
/// watch events leave through `send` in the order the client must see them;
/// `send` is called from any thread (events fire where the change is made)
/// and must only queue.
public final class XenStoreServerSession: Sendable {
    private let connection: EngineConnection
    private let home: String
    private let send: @Sendable ([UInt8]) -> Void
    private let decoder = Mutex(XenStoreMessageDecoder())

    private struct Output {
        /// While a `WATCH` is being answered, events wait here, because the
        /// acknowledgement must reach the client before the first event.
        var holding = false
        var held: [[UInt8]] = []
    }
    private let output = Mutex(Output())

    public init(engine: XenStoreEngine, domain: DomID = .dom0, send: @escaping @Sendable ([UInt8]) -> Void) {
        connection = engine.connect(as: domain) as! EngineConnection
        home = "/local/domain/\(domain)"
        self.send = send
    }

    /// Bytes from the client, in any pieces. Each whole message is answered
    /// before this returns. An error means the stream is broken (a header
    /// announcing more than 4096 bytes): close the connection.
    public func receive(_ bytes: some Sequence<UInt8>) throws(XenStoreError) {
        // Messages that came whole before a broken header are answered
        // first, as cxenstored answers each message before reading the
        // next header: what happens must not depend on how reads split.
        let (messages, broken) = decoder.withLock { (d) -> ([XenStoreMessage], XenStoreError?) in
            d.feed(bytes)
            var out: [XenStoreMessage] = []
            do throws(XenStoreError) {
                while let m = try d.next() { out.append(m) }
            } catch {
                return (out, error)
            }
            return (out, nil)
        }
        for m in messages { handle(m) }
        if let broken { throw broken }
    }

    /// Ends the client's watches and transactions, as a closed socket does.
    public func close() { connection.close() }

    /// Answers one request.
    public func handle(_ message: XenStoreMessage) {
        let reply: XenStoreMessage
        do throws(XenStoreError) {
            reply = try answer(message)
        } catch {
            reply = .error(to: message, error.code)
        }
        emit(reply.encoded(), release: message.type == .watch)
    }

    private func emit(_ bytes: [UInt8], release: Bool = false) {
        output.withLock { o in
            send(bytes)
            if release {
                for e in o.held { send(e) }
                o.held = []
                o.holding = false
            }
        }
    }

    private func event(_ bytes: [UInt8]) {
        output.withLock { o in
            if o.holding { o.held.append(bytes) } else { send(bytes) }
        }
    }

    /// A path as the client sent it, made absolute (`canonicalize`).
    private func resolve(_ raw: String) throws(XenStoreError) -> XenStorePath {
        if raw.hasPrefix("/") || raw.hasPrefix("@") { return try XenStorePath(raw) }
        return try XenStorePath(home + "/" + raw)
    }

    private func answer(_ m: XenStoreMessage) throws(XenStoreError) -> XenStoreMessage {
        let tx = XenStoreTransactionID(m.transactionID)
        let c = connection
        switch try XenStoreRequest(m) {
        case .read(let p):
            return .reply(to: m, try c.read(try resolve(p), transaction: tx))
        case .write(let p, let value):
            try c.write(try resolve(p), value, transaction: tx)
        case .mkdir(let p):
            try c.mkdir(try resolve(p), transaction: tx)
        case .rm(let p):
            try c.remove(try resolve(p), transaction: tx)
        case .directory(let p):
            let names = try c.directory(try resolve(p), transaction: tx).map(\.rawValue)
            let payload = XenStoreMessage.strings(names)
            // cxenstored refuses a reply over the limit; libxenstore then
            // falls back to DIRECTORY_PART.
            guard payload.count <= XenStoreLimits.payloadMax else {
                throw XenStoreError(.tooBig, .directory, path: p)
            }
            return .reply(to: m, payload)
        case .directoryPart(let p, let offset):
            let (generation, names) = try c.directoryWithGeneration(try resolve(p), transaction: tx)
            return .reply(to: m, Self.directoryPart(generation: generation, children: names, offset: offset))
        case .getPermissions(let p):
            return .reply(to: m, XenStoreMessage.strings(try c.permissions(try resolve(p), transaction: tx).strings))
        case .setPermissions(let p, let perms):
            try c.setPermissions(try resolve(p), try XenStorePermissions(strings: perms), transaction: tx)
        case .watch(let p, let token):
            let path = try resolve(p)
            let strip = p.hasPrefix("/") || p.hasPrefix("@") ? nil : home + "/"
            let sink = EngineState.WatchSink(deliver: { [weak self] e in
                var shown = e.path.rawValue
                if let strip, shown.hasPrefix(strip) { shown.removeFirst(strip.count) }
                let event = XenStoreMessage.watchEvent(path: shown, token: token)
                // cxenstored's send_event drops an event too long for one
                // message; libxenstore would drop the connection over it.
                guard event.payload.count <= XenStoreLimits.payloadMax else { return true }
                self?.event(event.encoded())
                // The server bounds what waits for the socket (outputLimit).
                return true
            }, finish: {})
            output.withLock { $0.holding = true }
            do throws(XenStoreError) {
                try c.watch(path, token: token, sink: sink)
            } catch {
                output.withLock { $0.holding = false }
                throw error
            }
        case .unwatch(let p, let token):
            try c.unwatch(try resolve(p), token: token)
        case .transactionStart:
            // cxenstored: no nested transactions.
            guard tx == .none else { throw XenStoreError(.busy, .transactionStart) }
            return .reply(to: m, XenStoreMessage.strings([try c.startTransaction().description]))
        case .transactionEnd(let commit):
            try c.endTransaction(tx, commit: commit)
        case .introduce(let d, _, _):
            // The embedded engine has no rings to map: the domain is known
            // to the store, and its clients connect in-process.
            try c.introduceDomain(d)
        case .release(let d):
            try c.releaseDomain(d)
        case .getDomainPath(let d):
            return .reply(to: m, XenStoreMessage.strings(["/local/domain/\(d)"]))
        case .isDomainIntroduced(let d):
            return .reply(to: m, XenStoreMessage.strings([try c.isDomainIntroduced(d) ? "T" : "F"]))
        case .resetWatches:
            try c.resetWatches()
        case .unsupported(let type):
            throw XenStoreError(.notImplemented, .serve, detail: "\(type) is not served")
        }
        return .acknowledge(m)
    }

    /// `send_directory_part`: the generation, then as many whole names from
    /// byte `offset` of the child list as fit; an extra empty string marks
    /// the end of the list.
    static func directoryPart(generation: UInt64, children: [String], offset: Int) -> [UInt8] {
        var out = XenStoreMessage.strings([String(generation)])
        let list = XenStoreMessage.strings(children)
        guard offset < list.count else { return out + [0] }
        let room = XenStoreLimits.payloadMax - out.count - 1
        var end = offset
        var i = offset
        while i < list.count {
            let nul = list[i...].firstIndex(of: 0)!
            if nul - offset >= room { break }
            end = nul + 1
            i = end
        }
        out.append(contentsOf: list[offset..<end])
        if end == list.count { out.append(0) }
        return out
    }
}
