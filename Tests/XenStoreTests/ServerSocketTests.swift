import Foundation
import Testing
@testable import XenStore
import XenStoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A client of `XenStoreServer` made of `socket()`, `connect()` and the
/// codec: it can send what libxenstore never would (garbage, half a
/// message) and see exactly when the server hangs up.
final class RawClient {
    let fd: Int32
    private var decoder = XenStoreMessageDecoder()
    private var nextID: UInt32 = 1
    /// Bounds every wait, so a broken server fails the test instead of
    /// hanging it; no test asserts on time.
    static let patience: Double = 30

    struct Failure: Error, CustomStringConvertible { let description: String }

    init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        guard Self.connect(fd, path) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure(description: "connect \(path): \(String(cString: strerror(e)))")
        }
    }

    deinit { Glibc.close(fd) }

    static func address(_ path: String) -> sockaddr_un {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { dst in
            for (i, b) in path.utf8.enumerated() { dst[i] = b }
        }
        return a
    }

    static func connect(_ fd: Int32, _ path: String) -> Int32 {
        var a = address(path)
        return withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// False once the server is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            sent += n
        }
        return true
    }

    /// Reads what is there, waiting for it: nil at end of stream or on a
    /// reset (the server closed this client), or when patience ran out.
    private func read() -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, Int32(Self.patience * 1000))
        guard ready > 0 else {
            Issue.record("the server neither answered nor hung up")
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buffer[..<n]) : nil
    }

    /// The next message from the server, or nil when it hung up.
    func next() -> XenStoreMessage? {
        while true {
            do {
                if let m = try decoder.next() { return m }
            } catch {
                Issue.record("the server sent an undecodable stream: \(error)")
                return nil
            }
            guard let bytes = read() else { return nil }
            decoder.feed(bytes)
        }
    }

    /// Sends a request and returns its reply; watch events that arrive in
    /// between are kept in `events`.
    var events: [String] = []

    func call(_ type: XenStoreMessageType, _ args: String..., tx: UInt32 = 0) throws -> String {
        let id = nextID
        nextID += 1
        guard send(XenStoreMessage(type: type, requestID: id, transactionID: tx, payload: XenStoreMessage.strings(args)).encoded())
        else { throw Failure(description: "\(type): the server is gone") }
        while let m = next() {
            if m.type == .watchEvent {
                events.append(WireClient.text(m))
                continue
            }
            guard m.requestID == id else { throw Failure(description: "reply to \(m.requestID), expected \(id)") }
            return WireClient.text(m)
        }
        throw Failure(description: "\(type): the server hung up")
    }

    /// Reads and drops everything until the server hangs up; false if it
    /// did not within `patience`.
    func hangsUp() -> Bool {
        while read() != nil {}
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0    // readable at EOF; a timeout recorded an issue already
    }
}

@Suite struct ServerSocketTests {
    let engine = XenStoreEngine()
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("pcistore-socktest-\(getpid())-\(UUID().uuidString.prefix(8)).sock").path

    /// Waits (bounded) until the server's client threads have noticed what
    /// happened to their sockets.
    func settle(_ server: XenStoreServer, connected: Int) {
        let deadline = Date().addingTimeInterval(RawClient.patience)
        while server.clientsConnected != connected && Date() < deadline { usleep(1000) }
        #expect(server.clientsConnected == connected)
    }

    func engineConnections() -> Int { engine.state.withLock { $0.connections.count } }
    func engineTransactions() -> Int { engine.state.withLock { $0.transactions.count } }
    func engineWatches() -> Int { engine.state.withLock { $0.connections.values.reduce(0) { $0 + $1.watches.count } } }

    static func oversizeHeader(_ length: UInt32 = 4097) -> [UInt8] {
        var h = XenStoreMessage(type: .write, requestID: 1).encoded()
        withUnsafeBytes(of: length) { h.replaceSubrange(12..<16, with: $0) }
        return h
    }

    @Test(arguments: [
        ("a header announcing 4097 bytes", oversizeHeader()),
        ("a header announcing 4 GiB", oversizeHeader(.max)),
        ("16 bytes of 0xff", [UInt8](repeating: 0xff, count: 16)),
        ("text", Array("GET / HTTP/1.1\r\nHost: xenstore\r\n\r\n".utf8)),
        ("random bytes", { var r = SplitMix(state: 7); return (0..<1024).map { _ in UInt8.random(in: 0...255, using: &r) } }()),
        ("a good request, then an oversize header", XenStoreMessage(type: .mkdir, payload: XenStoreMessage.strings(["/ok"])).encoded() + oversizeHeader()),
    ] as [(String, [UInt8])])
    func aBrokenStreamClosesThatClientOnly(_ name: String, _ bytes: [UInt8]) throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let good = try RawClient(path)
        #expect(try good.call(.write, "/g", "before") == "OK")
        let bad = try RawClient(path)
        bad.send(bytes)
        #expect(bad.hangsUp(), "\(name)")
        settle(server, connected: 1)
        #expect(try good.call(.read, "/g") == "before")
        #expect(try good.call(.write, "/g", "after") == "OK")
        let late = try RawClient(path)
        #expect(try late.call(.read, "/g") == "after")
        #expect(server.clientsServed == 3)
        #expect(engineConnections() == 2)
        // What came whole before the broken header was still answered.
        #expect(try late.call(.directory, "/").split(separator: "|").contains("ok") == name.contains("good request"))
    }

    /// Well-formed requests that are wrong get an error and the client
    /// stays: only the framing condemns a stream.
    @Test func badRequestsAreAnsweredNotDropped() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let c = try RawClient(path)
        #expect(try c.call(.read, "no/such") == "ERROR ENOENT")
        #expect(try c.call(XenStoreMessageType(rawValue: 999)) == "ERROR ENOSYS")
        #expect(try c.call(.transactionEnd, "maybe") == "ERROR EINVAL")
        c.send(XenStoreMessage(type: .read, requestID: 77, payload: [0xff, 0xfe, 0]).encoded())
        #expect(c.next() == XenStoreMessage(type: .error, requestID: 77, payload: Array("EINVAL\0".utf8)))
        #expect(try c.call(.write, "/still", "here") == "OK")
    }

    @Test func aRequestSentByteByByte() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let c = try RawClient(path)
        let m = XenStoreMessage(type: .write, requestID: 5, payload: XenStoreMessage.strings(["/slow", "v"]))
        for b in m.encoded() { c.send([b]) }
        #expect(c.next() == .acknowledge(m))
        #expect(try c.call(.read, "/slow") == "v")
    }

    @Test(arguments: ["half a header", "a header without its payload", "half a payload"])
    func aClientGoneMidMessageLeavesNothing(_ where_: String) throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let witness = try RawClient(path)
        #expect(try witness.call(.mkdir, "/m") == "OK")
        do {
            let c = try RawClient(path)
            #expect(try c.call(.watch, "/m", "tok") == "OK")
            let bytes = XenStoreMessage(type: .write, requestID: 9, payload: XenStoreMessage.strings(["/m/partial", "v"])).encoded()
            let cut = switch where_ {
            case "half a header": 8
            case "a header without its payload": XenStoreMessage.headerSize
            default: bytes.count - 2
            }
            c.send(Array(bytes[..<cut]))
        }
        settle(server, connected: 1)
        #expect(engineConnections() == 1)
        #expect(engineWatches() == 0)
        #expect(try witness.call(.read, "/m/partial") == "ERROR ENOENT")
        #expect(try witness.call(.write, "/m/after", "1") == "OK")
    }

    @Test func aClientGoneMidTransactionLeavesNothing() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let witness = try RawClient(path)
        do {
            let c = try RawClient(path)
            let tx = try #require(UInt32(try c.call(.transactionStart, "")))
            #expect(try c.call(.write, "/t/in-tx", "1", tx: tx) == "OK")
            let tx2 = try #require(UInt32(try c.call(.transactionStart, "")))
            #expect(try c.call(.read, "/", tx: tx2) == "")
            #expect(try c.call(.watch, "/t", "a") == "OK")
            #expect(try c.call(.watch, "rel", "b") == "OK")
            #expect(engineTransactions() == 2 && engineWatches() == 2)
        }
        settle(server, connected: 1)
        #expect(engineTransactions() == 0)
        #expect(engineWatches() == 0)
        #expect(engineConnections() == 1)
        #expect(try witness.call(.read, "/t/in-tx") == "ERROR ENOENT")
    }

    /// Many clients connected at once, each pipelining its requests; a
    /// watcher sees every change once.
    @Test func manyClientsAtOnce() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let watcher = try RawClient(path)
        #expect(try watcher.call(.watch, "/many", "w") == "OK")
        let clients = try (0..<64).map { _ in try RawClient(path) }
        let perClient = 40
        for (i, c) in clients.enumerated() {
            var burst: [UInt8] = []
            for k in 0..<perClient {
                burst += XenStoreMessage(type: .write, requestID: UInt32(k), payload: XenStoreMessage.strings(["/many/c\(i)/k\(k)", "\(i).\(k)"])).encoded()
            }
            #expect(c.send(burst))
        }
        for c in clients {
            for k in 0..<perClient {
                let r = c.next()
                #expect(r?.requestID == UInt32(k) && r?.payload == Array("OK\0".utf8))
            }
        }
        #expect(server.clientsConnected == 65)
        // Every write fired the watch once (and the watch fired once when set).
        var events = watcher.events
        while events.count < 1 + clients.count * perClient, let m = watcher.next() {
            events.append(WireClient.text(m))
        }
        #expect(events.count == 1 + clients.count * perClient)
        #expect(Set(events).count == events.count)
        let check = try RawClient(path)
        for i in [0, 31, 63] {
            #expect(try check.call(.read, "/many/c\(i)/k\(perClient - 1)") == "\(i).\(perClient - 1)")
        }
    }

    /// A client that stops reading is dropped once it is `outputLimit`
    /// bytes behind; writers are never held up by it.
    @Test func aClientThatStopsReadingIsDroppedNotWaitedFor() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path, outputLimit: 64 << 10)
        defer { server.stop() }
        let slow = try RawClient(path)
        let token = String(repeating: "t", count: 3000)
        #expect(try slow.call(.watch, "/flood", token) == "OK")
        let writer = try RawClient(path)
        // ~6 MB of events: far more than the socket buffer and the limit.
        for i in 0..<2000 { #expect(try writer.call(.write, "/flood/k", "\(i)") == "OK") }
        #expect(slow.hangsUp())
        #expect(try writer.call(.read, "/flood/k") == "1999")
    }

    @Test func stopWithClientsConnected() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        let idle = try RawClient(path)
        let busy = try RawClient(path)
        let tx = try #require(UInt32(try busy.call(.transactionStart, "")))
        #expect(try busy.call(.write, "/s", "1", tx: tx) == "OK")
        #expect(try busy.call(.watch, "/", "all") == "OK")
        let partial = try RawClient(path)
        partial.send(Array(XenStoreMessage(type: .read, payload: XenStoreMessage.strings(["/s"])).encoded().prefix(10)))
        #expect(FileManager.default.fileExists(atPath: path))
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(server.clientsConnected == 0)
        #expect(engineConnections() == 0 && engineTransactions() == 0)
        for c in [idle, busy, partial] { #expect(c.hangsUp()) }
        server.stop()     // again: nothing to do
        #expect(throws: RawClient.Failure.self) { try RawClient(path) }
    }

    @Test func aLiveServersSocketIsNotTaken() throws {
        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        let c = try RawClient(path)
        #expect(try c.call(.write, "/first", "1") == "OK")
        #expect(errorCode { _ = try XenStoreServer(engine: XenStoreEngine(), socketPath: path) } == .busy)
        // The first server still owns the path and answers.
        #expect(try c.call(.read, "/first") == "1")
        #expect(try RawClient(path).call(.read, "/first") == "1")
    }

    @Test func aStaleSocketIsReplaced() throws {
        // A socket file nobody listens on, as a killed server leaves it.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var a = RawClient.address(path)
        let bound = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(throws: RawClient.Failure.self) { try RawClient(path) }     // ECONNREFUSED: stale

        let server = try XenStoreServer(engine: engine, socketPath: path)
        defer { server.stop() }
        #expect(try RawClient(path).call(.write, "/fresh", "1") == "OK")
    }

    @Test func aRegularFileIsRefused() throws {
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        #expect(errorCode { _ = try XenStoreServer(engine: engine, socketPath: path) } == .alreadyExists)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
    }

    @Test func aDirectoryIsRefused() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        defer { rmdir(path) }
        #expect(errorCode { _ = try XenStoreServer(engine: engine, socketPath: path) } == .alreadyExists)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    @Test func aPathTooLongForSockaddr() {
        let long = "/tmp/" + String(repeating: "s", count: 200)
        #expect(errorCode { _ = try XenStoreServer(engine: engine, socketPath: long) } == .invalidArgument)
        #expect(errorCode { _ = try XenStoreServer(engine: engine, socketPath: "") } == .invalidArgument)
    }
}
