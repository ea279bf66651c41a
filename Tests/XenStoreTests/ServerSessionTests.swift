import Synchronization
import Testing
@testable import XenStore
import XenStoreTestSupport

/// A client of a `XenStoreServerSession`, in memory: requests go in as
/// bytes, and what the session sent comes back decoded. The session answers
/// before `receive` returns and fires events where the change is made, so
/// nothing here waits.
final class WireClient: Sendable {
    private final class Output: Sendable {
        let bytes = Mutex<[UInt8]>([])
        /// Events that arrived with the replies `call` returned.
        let events = Mutex<[String]>([])
    }
    let session: XenStoreServerSession
    private let output = Output()
    private let nextID = Atomic<UInt32>(100)

    init(_ engine: XenStoreEngine, domain: DomID = .dom0) {
        let output = self.output
        session = XenStoreServerSession(engine: engine, domain: domain) { bytes in
            output.bytes.withLock { $0.append(contentsOf: bytes) }
        }
    }

    /// Everything sent since the last call, as messages. Output that does
    /// not decode to whole messages fails the test.
    func take() -> [XenStoreMessage] {
        let bytes = output.bytes.withLock { o in defer { o = [] }; return o }
        var d = XenStoreMessageDecoder()
        d.feed(bytes)
        var out: [XenStoreMessage] = []
        do {
            while let m = try d.next() { out.append(m) }
        } catch {
            Issue.record("the session sent an undecodable stream: \(error)")
        }
        #expect(d.bufferedByteCount == 0, "the session sent part of a message")
        return out
    }

    /// Sends one request and returns everything that came back.
    @discardableResult
    func exchange(_ m: XenStoreMessage) -> [XenStoreMessage] {
        do throws(XenStoreError) {
            try session.receive(m.encoded())
        } catch {
            Issue.record("receive failed: \(error)")
        }
        return take()
    }

    /// Watch events received so far and not yet looked at, as `path|token`.
    func events() -> [String] {
        let more = take().map { m in
            #expect(m.type == .watchEvent, "unexpected \(m)")
            return WireClient.text(m)
        }
        return output.events.withLock { e in defer { e = [] }; return e } + more
    }

    /// Sends `type` with NUL-terminated `args` and returns the one reply;
    /// events that came with it wait for `events()`.
    func call(_ type: XenStoreMessageType, _ args: [String], tx: UInt32 = 0) -> XenStoreMessage {
        call(type, payload: XenStoreMessage.strings(args), tx: tx)
    }

    func call(_ type: XenStoreMessageType, payload: [UInt8], tx: UInt32 = 0) -> XenStoreMessage {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let all = exchange(XenStoreMessage(type: type, requestID: id, transactionID: tx, payload: payload))
        let replies = all.filter { $0.type != .watchEvent }
        let events = all.filter { $0.type == .watchEvent }.map(WireClient.text)
        output.events.withLock { $0 += events }
        #expect(replies.count == 1, "\(type): \(replies)")
        guard let r = replies.first else { return XenStoreMessage(type: .error) }
        #expect(r.requestID == id && r.transactionID == tx)
        return r
    }

    /// The reply's text: the payload up to its last NUL, NULs shown as `|`
    /// (`"a|b"` for the child list `a\0b\0`), or `"ERROR ENOENT"`.
    func text(_ type: XenStoreMessageType, _ args: String..., tx: UInt32 = 0) -> String {
        Self.text(call(type, args, tx: tx))
    }

    static func text(_ r: XenStoreMessage) -> String {
        var p = r.payload
        if p.last == 0 { p.removeLast() }
        let s = String(decoding: p.map { $0 == 0 ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
        return r.type == .error ? "ERROR " + s : s
    }
}

extension XenStoreMessage {
    /// `path|token` of a watch event.
    var event: String? { type == .watchEvent ? WireClient.text(self) : nil }
}

@Suite struct ServerSessionTests {
    let engine = XenStoreEngine()

    @Test func repliesKeepRequestAndTransactionIDs() throws {
        let c = WireClient(engine)
        for (id, m) in [(UInt32(0), XenStoreMessageType.mkdir), (0xFFFF_FFFF, .read), (7, .directory)] {
            let r = c.exchange(XenStoreMessage(type: m, requestID: id, payload: XenStoreMessage.strings(["/x"])))
            #expect(r.count == 1)
            #expect(r.first?.requestID == id)
            #expect(r.first?.transactionID == 0)
        }
        let tx = try #require(UInt32(c.text(.transactionStart, "")))
        #expect(tx != 0)
        let w = c.exchange(XenStoreMessage(type: .write, requestID: 55, transactionID: tx, payload: XenStoreMessage.strings(["/x/y", "1"])))
        #expect(w == [XenStoreMessage(type: .write, requestID: 55, transactionID: tx, payload: Array("OK\0".utf8))])
        // An error keeps them too.
        let e = c.exchange(XenStoreMessage(type: .read, requestID: 56, transactionID: tx, payload: XenStoreMessage.strings(["/nope"])))
        #expect(e == [XenStoreMessage(type: .error, requestID: 56, transactionID: tx, payload: Array("ENOENT\0".utf8))])
        #expect(c.text(.transactionEnd, "T", tx: tx) == "OK")
    }

    @Test func answersEveryRequest() throws {
        let c = WireClient(engine)
        #expect(c.text(.write, "/a/b", "hello") == "OK")
        #expect(c.call(.write, payload: Array("/a/bin\0".utf8) + [0, 0xff, 1]).payload == Array("OK\0".utf8))
        #expect(c.call(.read, ["/a/bin"]).payload == [0, 0xff, 1])       // values are bytes, no NUL added
        #expect(c.text(.read, "/a/b") == "hello")
        #expect(c.text(.read, "/a") == "")
        #expect(c.text(.mkdir, "/a/c") == "OK")
        #expect(c.text(.directory, "/a") == "b|bin|c")
        #expect(c.call(.directory, ["/a/c"]).payload == [])            // no children: an empty payload
        #expect(c.text(.getPermissions, "/a/b") == "n0")
        #expect(c.text(.setPermissions, "/a/b", "n5") == "ERROR ENOENT")   // an owner never heard of
        #expect(c.text(.introduce, "5", "0", "1") == "OK")
        #expect(c.text(.setPermissions, "/a/b", "n0", "r5") == "OK")
        #expect(c.text(.getPermissions, "/a/b") == "n0|r5")
        #expect(c.text(.setPermissions, "/a/b", "x0") == "ERROR EINVAL")
        #expect(c.text(.rm, "/a/c") == "OK")
        #expect(c.text(.rm, "/a/c") == "OK")                  // gone already, but its parent is there
        #expect(c.text(.rm, "/a/c/d") == "ERROR ENOENT")
        #expect(c.text(.read, "/a/b/") == "ERROR EINVAL")
        #expect(c.text(.read, "@releaseDomain") == "ERROR EINVAL")
        #expect(c.text(.directory, "/a") == "b|bin")
    }

    @Test func errorsAreXSErrorWithTheErrnoName() {
        let c = WireClient(engine)
        let cases: [(XenStoreMessageType, [UInt8], String)] = [
            (.read, XenStoreMessage.strings(["/missing"]), "ENOENT"),
            (.read, Array("/unterminated".utf8), "EINVAL"),
            (.mkdir, XenStoreMessage.strings(["/a b"]), "EINVAL"),
            (.transactionEnd, XenStoreMessage.strings(["T"]), "ENOENT"),   // no transaction
            (.control, XenStoreMessage.strings(["print", "x"]), "ENOSYS"),
            (.watchEvent, XenStoreMessage.strings(["/a", "t"]), "ENOSYS"),
            (.error, [], "ENOSYS"),
            (XenStoreMessageType(rawValue: 20), [], "ENOSYS"),
            (XenStoreMessageType(rawValue: 1000), [], "ENOSYS"),
            (.release, XenStoreMessage.strings(["0"]), "EINVAL"),            // dom0 never goes
            (.release, XenStoreMessage.strings(["9"]), "ENOENT"),            // not introduced
        ]
        for (type, payload, name) in cases {
            let r = c.call(type, payload: payload)
            #expect(r.type == .error, "\(type)")
            #expect(r.payload == Array((name + "\0").utf8), "\(type): \(WireClient.text(r))")
        }
    }

    /// A transaction id the client does not hold is ENOENT for node
    /// operations, whoever's it is.
    @Test func foreignTransactionIDs() throws {
        let a = WireClient(engine), b = WireClient(engine)
        let tx = try #require(UInt32(a.text(.transactionStart, "")))
        #expect(b.text(.read, "/", tx: tx) == "ERROR ENOENT")
        #expect(b.text(.write, "/x", "1", tx: tx) == "ERROR ENOENT")
        #expect(b.text(.transactionEnd, "T", tx: tx) == "ERROR ENOENT")
        #expect(a.text(.read, "/", tx: 12345) == "ERROR ENOENT")
        #expect(a.text(.transactionEnd, "F", tx: tx) == "OK")
    }

    @Test func relativePathsAreBelowTheDomainsHome() throws {
        let c = WireClient(engine)
        #expect(c.text(.write, "dev/x", "1") == "OK")
        #expect(c.text(.read, "/local/domain/0/dev/x") == "1")
        #expect(c.text(.read, "dev/x") == "1")
        #expect(c.text(.directory, "dev") == "x")
        #expect(c.text(.getPermissions, "dev/x") == "n0")
        #expect(c.text(.rm, "dev") == "OK")
        #expect(c.text(.read, "/local/domain/0/dev") == "ERROR ENOENT")
        #expect(c.text(.read, "") == "ERROR EINVAL")           // "/local/domain/0/" is no path
        #expect(c.text(.read, "a//b") == "ERROR EINVAL")

        // A domain's home is its own.
        #expect(c.text(.introduce, "5", "0", "1") == "OK")
        #expect(c.text(.mkdir, "/local/domain/5") == "OK")
        #expect(c.text(.setPermissions, "/local/domain/5", "n5") == "OK")
        let guest = WireClient(engine, domain: try DomID(5))
        #expect(guest.text(.write, "data/v", "g") == "OK")
        #expect(c.text(.read, "/local/domain/5/data/v") == "g")
        #expect(c.text(.write, "secret", "s") == "OK")
        #expect(guest.text(.read, "/local/domain/0/secret") == "ERROR EACCES")
        #expect(guest.text(.read, "secret") == "ERROR ENOENT")       // its own home has none
    }

    @Test func watchAcknowledgementComesBeforeTheFirstEvent() {
        let c = WireClient(engine)
        let out = c.exchange(XenStoreMessage(type: .watch, requestID: 9, transactionID: 33,
                                             payload: XenStoreMessage.strings(["/w", "tok"])))
        // WATCH ignores the transaction id (XS_FLAG_NOTID) but echoes it.
        #expect(out == [
            XenStoreMessage(type: .watch, requestID: 9, transactionID: 33, payload: Array("OK\0".utf8)),
            XenStoreMessage(type: .watchEvent, payload: Array("/w\0tok\0".utf8)),
        ])
        // Events from another client's change.
        let other = WireClient(engine)
        #expect(other.text(.write, "/w/x", "1") == "OK")
        #expect(c.events() == ["/w/x|tok"])
        #expect(other.text(.write, "/elsewhere", "1") == "OK")
        #expect(c.events().isEmpty)
        // A second watch on the same path: its own token, its own first event.
        #expect(c.exchange(XenStoreMessage(type: .watch, requestID: 10, payload: XenStoreMessage.strings(["/w", "t2"])))
                    .map { $0.event ?? WireClient.text($0) } == ["OK", "/w|t2"])
        #expect(c.text(.watch, "/w", "t2") == "ERROR EEXIST")
        #expect(other.text(.write, "/w", "v") == "OK")
        #expect(Set(c.events()) == ["/w|tok", "/w|t2"])
        #expect(c.text(.unwatch, "/w", "tok") == "OK")
        #expect(c.text(.unwatch, "/w", "tok") == "ERROR ENOENT")
        #expect(other.text(.write, "/w", "v2") == "OK")
        #expect(c.events() == ["/w|t2"])
    }

    /// Many events in flight while a WATCH is answered: the acknowledgement
    /// still precedes that watch's first event on the wire.
    @Test func watchAcknowledgementUnderConcurrentEvents() async {
        let c = WireClient(engine)
        #expect(c.text(.watch, "/busy", "old") == "OK")
        _ = c.events()
        let writer = Task.detached { [engine] in
            let w = WireClient(engine)
            for i in 0..<2000 { _ = w.call(.write, ["/busy/k", String(i)]) }
        }
        for i in 0..<50 {
            let out = c.exchange(XenStoreMessage(type: .watch, requestID: UInt32(i),
                                                 payload: XenStoreMessage.strings(["/busy", "new\(i)"])))
            let ack = out.firstIndex { $0.type == .watch }
            let first = out.firstIndex { $0.event == "/busy|new\(i)" }
            #expect(ack != nil && first != nil && ack! < first!, "\(out)")
        }
        await writer.value
    }

    @Test func relativeWatchesGetRelativeEvents() {
        let c = WireClient(engine), other = WireClient(engine)
        #expect(c.exchange(XenStoreMessage(type: .watch, payload: XenStoreMessage.strings(["dev", "rel"])))
                    .map { $0.event ?? WireClient.text($0) } == ["OK", "dev|rel"])
        #expect(c.exchange(XenStoreMessage(type: .watch, payload: XenStoreMessage.strings(["/local/domain/0/dev", "abs"])))
                    .map { $0.event ?? WireClient.text($0) } == ["OK", "/local/domain/0/dev|abs"])
        #expect(other.text(.write, "/local/domain/0/dev/a/b", "1") == "OK")
        let events = c.events()
        #expect(Set(events) == ["dev/a/b|rel", "/local/domain/0/dev/a/b|abs"])
        #expect(events.count == 2)
        // UNWATCH resolves a relative path the same way.
        #expect(c.text(.unwatch, "/local/domain/0/dev", "rel") == "OK")
        #expect(c.text(.unwatch, "dev", "abs") == "OK")
        #expect(other.text(.write, "/local/domain/0/dev/a", "2") == "OK")
        #expect(c.events().isEmpty)
    }

    @Test func specialWatches() {
        let c = WireClient(engine)
        #expect(c.exchange(XenStoreMessage(type: .watch, payload: XenStoreMessage.strings(["@introduceDomain", "i"])))
                    .map { $0.event ?? WireClient.text($0) } == ["OK", "@introduceDomain|i"])
        #expect(c.exchange(XenStoreMessage(type: .watch, payload: XenStoreMessage.strings(["@releaseDomain", "r"])))
                    .map { $0.event ?? WireClient.text($0) } == ["OK", "@releaseDomain|r"])
        #expect(c.text(.introduce, "3", "0", "1") == "OK")
        #expect(c.events() == ["@introduceDomain|i"])
        #expect(c.text(.release, "3") == "OK")
        #expect(c.events() == ["@releaseDomain|r"])
    }

    /// cxenstored's `send_event` drops an event whose path and token do
    /// not fit in one message; libxenstore would take a longer one for a
    /// broken stream (E2BIG) and lose the connection.
    @Test func overLongEventsAreDropped() {
        let c = WireClient(engine), other = WireClient(engine)
        let token = String(repeating: "t", count: 4000)
        #expect(other.text(.mkdir, "/w") == "OK")
        let out = c.exchange(XenStoreMessage(type: .watch, payload: XenStoreMessage.strings(["/w", token])))
        #expect(out.map(\.type) == [.watch, .watchEvent])        // "/w" + token fits
        let long = "/w/" + String(repeating: "n", count: 100)
        #expect(other.text(.write, long, "") == "OK")            // 104 + 4001 bytes: too long
        #expect(other.text(.write, "/w/s", "") == "OK")          // 5 + 4001 bytes: fits
        let events = c.take()
        #expect(events.compactMap(\.event).map { String($0.prefix(5)) } == ["/w/s|"])
        #expect(events.allSatisfy { $0.payload.count <= XenStoreLimits.payloadMax })
    }

    @Test func transactions() throws {
        let a = WireClient(engine), b = WireClient(engine)
        #expect(a.text(.write, "/t/v", "0") == "OK")
        let tx = try #require(UInt32(a.text(.transactionStart, "")))
        #expect(a.text(.transactionStart, "", tx: tx) == "ERROR EBUSY")    // no nesting
        #expect(a.text(.read, "/t/v", tx: tx) == "0")
        #expect(a.text(.write, "/t/v", "1", tx: tx) == "OK")
        #expect(b.text(.read, "/t/v") == "0")                              // isolated
        #expect(a.text(.transactionEnd, "T", tx: tx) == "OK")
        #expect(b.text(.read, "/t/v") == "1")
        #expect(a.text(.transactionEnd, "T", tx: tx) == "ERROR ENOENT")    // gone

        // A conflict: EAGAIN at commit, nothing applied.
        let t2 = try #require(UInt32(a.text(.transactionStart, "")))
        #expect(a.text(.read, "/t/v", tx: t2) == "1")
        #expect(a.text(.write, "/t/v", "2", tx: t2) == "OK")
        #expect(b.text(.write, "/t/v", "b") == "OK")
        #expect(a.text(.transactionEnd, "T", tx: t2) == "ERROR EAGAIN")
        #expect(b.text(.read, "/t/v") == "b")

        // Abort.
        let t3 = try #require(UInt32(a.text(.transactionStart, "")))
        #expect(a.text(.write, "/t/new", "x", tx: t3) == "OK")
        #expect(a.text(.transactionEnd, "F", tx: t3) == "OK")
        #expect(a.text(.read, "/t/new") == "ERROR ENOENT")
        #expect(a.text(.transactionEnd, "X", tx: t3) == "ERROR EINVAL")
    }

    @Test func resetWatchesDropsWatchesAndTransactions() throws {
        let c = WireClient(engine), other = WireClient(engine)
        #expect(c.text(.watch, "/r", "a") == "OK")
        #expect(c.text(.watch, "rel", "b") == "OK")
        let tx = try #require(UInt32(c.text(.transactionStart, "")))
        #expect(c.text(.write, "/r/in-tx", "1", tx: tx) == "OK")
        _ = c.events()
        #expect(c.text(.resetWatches) == "OK")
        #expect(other.text(.write, "/r/x", "1") == "OK")
        #expect(other.text(.write, "/local/domain/0/rel", "1") == "OK")
        #expect(c.events().isEmpty)
        #expect(c.text(.transactionEnd, "T", tx: tx) == "ERROR ENOENT")
        #expect(c.text(.read, "/r/in-tx") == "ERROR ENOENT")
        #expect(c.text(.unwatch, "/r", "a") == "ERROR ENOENT")
        // The same watch can be set again, and fires again.
        #expect(c.text(.watch, "/r", "a") == "OK")
        #expect(other.text(.write, "/r/y", "1") == "OK")
        #expect(c.events() == ["/r|a", "/r/y|a"])
    }

    @Test func domains() {
        let c = WireClient(engine)
        #expect(c.text(.getDomainPath, "0") == "/local/domain/0")
        #expect(c.text(.getDomainPath, "7") == "/local/domain/7")     // known or not
        #expect(c.text(.getDomainPath, "32751") == "/local/domain/32751")
        #expect(c.text(.getDomainPath, "x") == "ERROR EINVAL")
        #expect(c.text(.isDomainIntroduced, "0") == "T")
        #expect(c.text(.isDomainIntroduced, "7") == "F")
        #expect(c.text(.introduce, "7", "4096", "12") == "OK")
        #expect(c.text(.isDomainIntroduced, "7") == "T")
        #expect(c.text(.introduce, "7", "4096", "12") == "OK")       // again: no error, no second event
        #expect(c.text(.release, "7") == "OK")
        #expect(c.text(.isDomainIntroduced, "7") == "F")
        #expect(c.text(.release, "7") == "ERROR ENOENT")
        // Only dom0 may introduce and release.
        #expect(c.text(.introduce, "8", "0", "1") == "OK")
        let guest = WireClient(engine, domain: try! DomID(8))
        #expect(guest.text(.introduce, "9", "0", "1") == "ERROR EACCES")
        #expect(guest.text(.release, "8") == "ERROR EACCES")
    }

    // MARK: - DIRECTORY and DIRECTORY_PART

    /// What cxenstored's `send_directory_part` answers, written from its
    /// description: the generation and a NUL, then the whole names from
    /// byte `offset` of the child list as long as each one's end stays
    /// below 4096 − (generation + NUL) − 1 bytes from `offset`; a final
    /// extra NUL when the list is exhausted; only that NUL past the end.
    static func reference(generation: UInt64, list: [UInt8], offset: Int) -> [UInt8] {
        let head = Array(String(generation).utf8) + [0]
        if offset >= list.count { return head + [0] }
        let limit = XenStoreLimits.payloadMax - head.count - 1
        var taken = 0
        var names = list[offset...].split(separator: 0, omittingEmptySubsequences: false).dropLast()
        while let name = names.first, taken + name.count < limit {
            taken += name.count + 1
            names.removeFirst()
        }
        let done = offset + taken == list.count
        return head + list[offset..<offset + taken] + (done ? [0] : [])
    }

    /// What libxenstore does with DIRECTORY_PART after E2BIG: ask from
    /// offset 0, then from the end of what came, until the final empty
    /// string; a change of generation means start again.
    static func directoryInParts(_ c: WireClient, _ path: String) throws -> (names: [String], requests: Int) {
        var names: [String] = []
        var offset = 0
        var generation: String?
        var requests = 0
        while true {
            requests += 1
            let r = c.call(.directoryPart, [path, String(offset)])
            try #require(r.type == .directoryPart, "\(WireClient.text(r))")
            #expect(r.payload.count <= XenStoreLimits.payloadMax)
            let nul = try #require(r.payload.firstIndex(of: 0))
            let gen = String(decoding: r.payload[..<nul], as: UTF8.self)
            if let generation { try #require(gen == generation) }
            generation = gen
            let body = r.payload[(nul + 1)...]
            if body == [0] { return (names, requests) }
            try #require(body.last == 0)
            // Whole names only; the list's end is an extra NUL.
            var parts = body.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
                String(decoding: $0, as: UTF8.self)
            }
            let finished = parts.last == ""
            if finished { parts.removeLast() }
            names += parts
            offset += parts.reduce(0) { $0 + $1.utf8.count + 1 }
            if finished { return (names, requests) }
        }
    }

    @Test(arguments: [(600, 12), (1200, 20), (300, 40), (100, 200)])
    func longDirectoriesComeInParts(count: Int, nameLength: Int) throws {
        let c = WireClient(engine)
        let names = (0..<count).map { i in
            let n = String(i)
            return n + String(repeating: "x", count: nameLength - n.count)
        }
        for n in names { #expect(c.text(.mkdir, "/big/" + n) == "OK") }
        let list = XenStoreMessage.strings(names)
        let whole = c.call(.directory, ["/big"])
        if list.count > XenStoreLimits.payloadMax {
            #expect(whole == .error(to: whole, .tooBig))
        } else {
            #expect(whole.payload == list)
        }
        let (got, requests) = try Self.directoryInParts(c, "/big")
        #expect(got == names)
        // Each piece is nearly full: no more requests than that allows.
        #expect(list.count <= XenStoreLimits.payloadMax || requests > 1)
        #expect(requests <= list.count / (XenStoreLimits.payloadMax - 24 - nameLength) + 1)

        // Byte for byte as cxenstored, from every kind of offset: name
        // starts, the middle of a name, the end, past the end.
        let generation = try #require(UInt64(c.text(.directoryPart, "/big", "0").split(separator: "|").first ?? ""))
        var offsets = [0, 1, list.count - 1, list.count, list.count + 1, 1 << 30]
        var rng = SplitMix(state: UInt64(count))
        for _ in 0..<50 { offsets.append(Int.random(in: 0..<list.count, using: &rng)) }
        for offset in offsets {
            let r = c.call(.directoryPart, ["/big", String(offset)])
            #expect(r.payload == Self.reference(generation: generation, list: list, offset: offset), "offset \(offset)")
        }
    }

    @Test func directoryPartOfSmallAndEmptyDirectories() throws {
        let c = WireClient(engine)
        #expect(c.text(.mkdir, "/e") == "OK")
        let empty = c.call(.directoryPart, ["/e", "0"]).payload
        #expect(empty.split(separator: 0, omittingEmptySubsequences: false).count == 3)   // gen, "", ""
        #expect(Array(empty.suffix(2)) == [0, 0])
        #expect(c.text(.write, "/e/a", "") == "OK")
        #expect(c.text(.write, "/e/bb", "") == "OK")
        let r = c.call(.directoryPart, ["/e", "0"])
        let gen = try #require(r.payload.firstIndex(of: 0))
        #expect(Array(r.payload[(gen + 1)...]) == Array("a\0bb\0\0".utf8))
        #expect(try Self.directoryInParts(c, "/e").names == ["a", "bb"])
        #expect(c.text(.directoryPart, "/missing", "0") == "ERROR ENOENT")
        #expect(c.text(.directoryPart, "rel", "0") == "ERROR ENOENT")
        #expect(c.text(.directoryPart, "/e", "-1") == "ERROR EINVAL")
    }

    /// The generation lets a client reading in parts see that the list
    /// changed between two requests.
    @Test func directoryPartGenerationChangesWithTheChildren() throws {
        let c = WireClient(engine)
        #expect(c.text(.mkdir, "/g") == "OK")
        func generation() -> String { String(c.text(.directoryPart, "/g", "0").split(separator: "|", omittingEmptySubsequences: false)[0]) }
        let g0 = generation()
        #expect(generation() == g0)
        #expect(c.text(.write, "/g/child", "") == "OK")
        let g1 = generation()
        #expect(g1 != g0)
        #expect(c.text(.write, "/g/child", "value only") == "OK")
        #expect(c.text(.write, "/g/child/grandchild", "") == "OK")
        let g2 = generation()
        #expect(c.text(.rm, "/g/child") == "OK")
        #expect(generation() != g2)
    }

    // MARK: - The session's end

    @Test func closeEndsWatchesAndTransactions() throws {
        let c = WireClient(engine), other = WireClient(engine)
        #expect(c.text(.watch, "/c", "t") == "OK")
        let tx = try #require(UInt32(c.text(.transactionStart, "")))
        #expect(c.text(.write, "/c/pending", "1", tx: tx) == "OK")
        #expect(engine.state.withLock { $0.transactions.count } == 1)
        _ = c.events()
        c.session.close()
        #expect(engine.state.withLock { $0.transactions.isEmpty })
        #expect(other.text(.write, "/c/x", "1") == "OK")
        #expect(c.events().isEmpty)
        #expect(other.text(.read, "/c/pending") == "ERROR ENOENT")
        // A closed session answers, but only that it is closed.
        #expect(c.text(.read, "/c/x") == "ERROR EIO")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() {
        let c = WireClient(engine)
        var burst: [UInt8] = []
        for i in 0..<200 {
            burst += XenStoreMessage(type: .write, requestID: UInt32(i), payload: XenStoreMessage.strings(["/p/\(i)", "\(i)"])).encoded()
            burst += XenStoreMessage(type: .read, requestID: UInt32(1000 + i), payload: XenStoreMessage.strings(["/p/\(i)"])).encoded()
        }
        // In awkward pieces: 7 bytes at a time.
        var out: [XenStoreMessage] = []
        for start in stride(from: 0, to: burst.count, by: 7) {
            do throws(XenStoreError) {
                try c.session.receive(burst[start..<min(start + 7, burst.count)])
            } catch {
                Issue.record("\(error)")
            }
            out += c.take()
        }
        var expected: [XenStoreMessage] = []
        for i in 0..<200 {
            expected.append(XenStoreMessage(type: .write, requestID: UInt32(i), payload: Array("OK\0".utf8)))
            expected.append(XenStoreMessage(type: .read, requestID: UInt32(1000 + i), payload: Array("\(i)\0".utf8)))
        }
        #expect(out == expected)
    }

    @Test func anOversizeHeaderBreaksTheSession() {
        let c = WireClient(engine)
        var bad = XenStoreMessage(type: .read).encoded()
        withUnsafeBytes(of: UInt32(4097)) { bad.replaceSubrange(12..<16, with: $0) }
        // A good request first, in the same read: answered before the error.
        let good = XenStoreMessage(type: .mkdir, requestID: 1, payload: XenStoreMessage.strings(["/ok"])).encoded()
        #expect(errorCode { try c.session.receive(good + bad) } == .tooBig)
        #expect(c.take().map(\.requestID) == [1])
    }
}
