import Testing
import XenStore
import XenStoreTestSupport

/// `XenStoreMessage` and `XenStoreMessageDecoder`: the framing of
/// `xs_wire.h`, fed in every way a socket can cut it (swift-nio's decoder
/// verifier: byte by byte, in random pieces, all at once).
@Suite struct WireCodecTests {
    /// Messages of every type, random ids, payloads from empty to the limit.
    static func messages(seed: UInt64, count: Int) -> [XenStoreMessage] {
        var rng = SplitMix(state: seed)
        return (0..<count).map { i in
            let length: Int
            switch i % 5 {
            case 0: length = 0
            case 1: length = XenStoreLimits.payloadMax
            default: length = Int.random(in: 0...300, using: &rng)
            }
            return XenStoreMessage(
                type: XenStoreMessageType(rawValue: i % 7 == 6 ? UInt32.random(in: 0...UInt32.max, using: &rng) : UInt32(i % 23)),
                requestID: UInt32.random(in: 0...UInt32.max, using: &rng),
                transactionID: i % 3 == 0 ? 0 : UInt32.random(in: 0...UInt32.max, using: &rng),
                payload: (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
    }

    /// Feeds `bytes` in the given pieces, taking every message as soon as it is whole.
    static func decode(_ bytes: [UInt8], pieces: [Int]) throws -> [XenStoreMessage] {
        var d = XenStoreMessageDecoder()
        var out: [XenStoreMessage] = []
        var at = 0
        for n in pieces {
            d.feed(bytes[at..<at + n])
            at += n
            while let m = try d.next() { out.append(m) }
        }
        #expect(at == bytes.count)
        #expect(d.bufferedByteCount == 0)
        return out
    }

    @Test func encodedLayout() {
        let m = XenStoreMessage(type: .write, requestID: 0x0102_0304, transactionID: 0xA0B0_C0D0,
                                payload: Array("a\0b".utf8))
        let bytes = m.encoded()
        #expect(bytes.count == 16 + 3)
        // xs_wire.h: four uint32_t in the host's order, then the payload.
        #if _endian(little)
        #expect(Array(bytes[0..<16]) == [11, 0, 0, 0, 4, 3, 2, 1, 0xD0, 0xC0, 0xB0, 0xA0, 3, 0, 0, 0])
        #else
        #expect(Array(bytes[0..<16]) == [0, 0, 0, 11, 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0, 0, 0, 0, 3])
        #endif
        #expect(Array(bytes[16...]) == [0x61, 0, 0x62])
    }

    @Test func decodesAHandWrittenHeader() throws {
        var bytes: [UInt8] = []
        for field: UInt32 in [2, 77, 5, 4] { withUnsafeBytes(of: field) { bytes.append(contentsOf: $0) } }
        bytes += Array("/ab\0".utf8)
        var d = XenStoreMessageDecoder()
        d.feed(bytes)
        let m = try #require(try d.next())
        #expect(m == XenStoreMessage(type: .read, requestID: 77, transactionID: 5, payload: Array("/ab\0".utf8)))
        #expect(try d.next() == nil)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func roundTripInEveryChunking(seed: UInt64) throws {
        let sent = Self.messages(seed: seed, count: 60)
        let stream = sent.flatMap { $0.encoded() }
        // All at once, byte by byte, and random pieces from 1 byte to 3
        // messages long (some pieces end inside a header, some inside a payload).
        var rng = SplitMix(state: seed &* 31)
        var random: [Int] = []
        var left = stream.count
        while left > 0 {
            let n = min(left, Int.random(in: 1...3 * (XenStoreMessage.headerSize + 300), using: &rng))
            random.append(n)
            left -= n
        }
        let chunkings: [(String, [Int])] = [
            ("all at once", [stream.count]),
            ("byte by byte", Array(repeating: 1, count: stream.count)),
            ("random pieces", random),
            ("header, then payload", sent.flatMap { [XenStoreMessage.headerSize, $0.payload.count] }.filter { $0 > 0 }),
        ]
        for (name, pieces) in chunkings {
            let got = try Self.decode(stream, pieces: pieces)
            #expect(got == sent, "\(name)")
        }
    }

    @Test func nothingUntilTheLastByte() throws {
        let bytes = XenStoreMessage(type: .read, requestID: 1, payload: Array("/x\0".utf8)).encoded()
        var d = XenStoreMessageDecoder()
        for b in bytes.dropLast() {
            d.feed([b])
            #expect(try d.next() == nil)
        }
        #expect(d.bufferedByteCount == bytes.count - 1)
        d.feed([bytes.last!])
        #expect(try d.next()?.payload == Array("/x\0".utf8))
        #expect(d.bufferedByteCount == 0)
    }

    /// A burst longer than the decoder's compaction threshold (64 KiB) in
    /// one read, ending inside a message: nothing lost or reordered across
    /// the compaction.
    @Test func longPipelinedBurst() throws {
        let sent = (0..<100).map { i in
            XenStoreMessage(type: .write, requestID: UInt32(i), payload: [UInt8](repeating: UInt8(i), count: 1000 + i))
        }
        let stream = sent.flatMap { $0.encoded() }
        var d = XenStoreMessageDecoder()
        let cut = stream.count - 500
        d.feed(stream[..<cut])
        var got: [XenStoreMessage] = []
        while let m = try d.next() { got.append(m) }
        #expect(got.count == 99)
        d.feed(stream[cut...])
        while let m = try d.next() { got.append(m) }
        #expect(got == sent)
    }

    @Test func exactlyThePayloadLimit() throws {
        let m = XenStoreMessage(type: .write, payload: [UInt8](repeating: 0x41, count: XenStoreLimits.payloadMax))
        let got = try Self.decode(m.encoded(), pieces: [m.encoded().count])
        #expect(got == [m])
    }

    @Test func overTheLimitIsE2BIGAsSoonAsTheHeaderArrives() throws {
        var header = XenStoreMessage(type: .write).encoded()
        withUnsafeBytes(of: UInt32(XenStoreLimits.payloadMax + 1)) { header.replaceSubrange(12..<16, with: $0) }
        var d = XenStoreMessageDecoder()
        d.feed(header.prefix(15))
        #expect(try d.next() == nil)
        d.feed(header.suffix(1))
        // No payload yet: the header alone condemns the stream.
        #expect(errorCode { _ = try d.next() } == .tooBig)
        // And it stays condemned: what follows cannot be framed.
        d.feed([UInt8](repeating: 0, count: 100))
        #expect(errorCode { _ = try d.next() } == .tooBig)
    }

    @Test(arguments: [UInt32(4097), 65536, 0x8000_0000, UInt32.max])
    func hugeLengths(_ length: UInt32) throws {
        // A message before it still comes out; the bad one throws.
        var bytes = XenStoreMessage(type: .read, requestID: 9, payload: Array("/a\0".utf8)).encoded()
        var bad = XenStoreMessage(type: .read).encoded()
        withUnsafeBytes(of: length) { bad.replaceSubrange(12..<16, with: $0) }
        bytes += bad
        var d = XenStoreMessageDecoder()
        d.feed(bytes)
        #expect(try d.next()?.requestID == 9)
        do {
            _ = try d.next()
            Issue.record("accepted a payload of \(length) bytes")
        } catch {
            #expect(error.code == .tooBig)
            #expect(error.description.contains("\(length)"))
        }
    }

    // MARK: - What a server sends

    @Test func replyConstructors() {
        let request = XenStoreMessage(type: .read, requestID: 42, transactionID: 7, payload: Array("/a\0".utf8))
        #expect(XenStoreMessage.reply(to: request, [1, 2]) ==
                XenStoreMessage(type: .read, requestID: 42, transactionID: 7, payload: [1, 2]))
        #expect(XenStoreMessage.acknowledge(request).payload == Array("OK\0".utf8))
        #expect(XenStoreMessage.acknowledge(request).type == .read)
        let e = XenStoreMessage.error(to: request, .notFound)
        #expect(e == XenStoreMessage(type: .error, requestID: 42, transactionID: 7, payload: Array("ENOENT\0".utf8)))
        // Every wire errno goes out by name; client-side codes have none.
        for code in XenStoreError.Code.wireErrors {
            #expect(XenStoreMessage.error(to: request, code).payload == Array((code.name + "\0").utf8))
        }
        for code in [XenStoreError.Code.unreachable, .retriesExhausted, .invalidReply] {
            #expect(XenStoreMessage.error(to: request, code).payload == Array("EIO\0".utf8))
        }
        #expect(XenStoreMessage.watchEvent(path: "/a", token: "t") ==
                XenStoreMessage(type: .watchEvent, payload: Array("/a\0t\0".utf8)))
        #expect(XenStoreMessage.strings([]) == [])
        #expect(XenStoreMessage.strings(["", "x"]) == [0, 0x78, 0])
    }

    @Test func typeNames() {
        #expect(XenStoreMessageType.directoryPart.description == "DIRECTORY_PART")
        #expect(XenStoreMessageType.getPermissions.description == "GET_PERMS")
        #expect(XenStoreMessageType(rawValue: 20).description == "type 20")
        #expect(XenStoreMessageType(rawValue: UInt32.max).description == "type 4294967295")
        // xs_wire.h's numbering.
        let numbers: [(XenStoreMessageType, UInt32)] = [
            (.control, 0), (.directory, 1), (.read, 2), (.getPermissions, 3), (.watch, 4), (.unwatch, 5),
            (.transactionStart, 6), (.transactionEnd, 7), (.introduce, 8), (.release, 9), (.getDomainPath, 10),
            (.write, 11), (.mkdir, 12), (.rm, 13), (.setPermissions, 14), (.watchEvent, 15), (.error, 16),
            (.isDomainIntroduced, 17), (.resume, 18), (.setTarget, 19), (.resetWatches, 21), (.directoryPart, 22),
        ]
        for (t, n) in numbers { #expect(t.rawValue == n) }
    }

    @Test func descriptionShowsBytesSafely() {
        let m = XenStoreMessage(type: .write, requestID: 3, payload: Array("/a\0".utf8) + [0xff, 0x0a])
        #expect(m.description == "WRITE req=3 tx=0 len=5 \"/a\\0\\xff\\xa\"")
        let long = XenStoreMessage(type: .read, payload: [UInt8](repeating: 0x61, count: 100))
        #expect(long.description.hasSuffix("…\""))
    }
}

/// The code `body` failed with, or nil when it did not fail.
func errorCode(_ body: () throws -> Void) -> XenStoreError.Code? {
    do {
        try body()
        return nil
    } catch let e as XenStoreError {
        return e.code
    } catch {
        Issue.record("not a XenStoreError: \(error)")
        return nil
    }
}
