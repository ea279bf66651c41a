import Synchronization
import XenStore

// libFuzzer target for the wire protocol (see ../../run.sh).
//
// One input is one client's connection. Byte 0 says who the client is, what
// the other bytes are and how the stream is cut into reads:
//   bit 7      0: dom0; 1: domain 5, unprivileged, with /local/domain/5 its own
//   bit 6      0: the rest is the byte stream as sent;
//              1: the rest is records (see `frame`), made into messages here,
//              so that mutations inside a payload keep the framing intact
//   bits 0…5   0: one read; n: reads of 1…k bytes (k picked by n), from a
//              generator seeded with n
// Failing invariants trap (fatalError), which libFuzzer reports as a crash
// with the input saved.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let control = input[0]
    let body = Array(input.dropFirst())
    let stream = control & 0x40 != 0 ? frame(body) : body
    let pieces = cut(stream.count, seed: control & 0x3f)
    let guest = control & 0x80 != 0

    // 1. The codec alone.
    let requests = checkCodec(stream, pieces: pieces)

    // 2. A session over a fresh engine, fed in those pieces…
    let chunked = serve(stream, pieces: pieces, guest: guest)
    checkOutput(chunked, requests: requests)

    // 3. …answers exactly as one fed in a single read.
    let whole = serve(stream, pieces: [stream.count], guest: guest)
    require(whole.output == chunked.output && whole.broken == chunked.broken,
            "the session's output depends on how the stream was cut")
    return 0
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant: \(message())") }
}

/// Records separated by this; each is a type byte (taken modulo 32), a
/// transaction id byte, then the payload (cut at 4096 bytes). The request
/// ids count the records.
let separator: [UInt8] = [0xFE, 0xED, 0xFA, 0xCE]

/// The stream of messages that `body`'s records stand for. The header is
/// packed here, not with the codec under test.
func frame(_ body: [UInt8]) -> [UInt8] {
    var records: [ArraySlice<UInt8>] = []
    var from = 0
    var i = 0
    while i + separator.count <= body.count {
        if body[i..<i + separator.count].elementsEqual(separator) {
            records.append(body[from..<i])
            i += separator.count
            from = i
        } else {
            i += 1
        }
    }
    records.append(body[from...])
    var out: [UInt8] = []
    for (n, r) in records.enumerated() where r.count >= 2 {
        let payload = r.dropFirst(2).prefix(XenStoreLimits.payloadMax)
        let header: [UInt32] = [UInt32(r[r.startIndex] % 32), UInt32(n), UInt32(r[r.startIndex + 1]), UInt32(payload.count)]
        for field in header { withUnsafeBytes(of: field) { out.append(contentsOf: $0) } }
        out.append(contentsOf: payload)
    }
    return out
}

/// Read sizes covering `count` bytes.
func cut(_ count: Int, seed: UInt8) -> [Int] {
    guard seed != 0 else { return [count] }
    let largest = [1, 3, 16, 17, 100, 4112, 4113, 9000][Int(seed) % 8]
    var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
    var pieces: [Int] = []
    var left = count
    while left > 0 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let n = min(left, 1 + Int((state >> 33) % UInt64(largest)))
        pieces.append(n)
        left -= n
    }
    return pieces
}

/// The decoder and the request parser, without a session: returns the
/// messages a server would answer (those before the first broken header).
func checkCodec(_ stream: [UInt8], pieces: [Int]) -> [XenStoreMessage] {
    func decode(_ pieces: [Int]) -> (messages: [XenStoreMessage], left: Int, broken: Bool) {
        var d = XenStoreMessageDecoder()
        var out: [XenStoreMessage] = []
        var at = 0
        for n in pieces {
            d.feed(stream[at..<at + n])
            at += n
            do throws(XenStoreError) {
                while let m = try d.next() { out.append(m) }
            } catch {
                require(error.code == .tooBig, "decoder threw \(error)")
                return (out, d.bufferedByteCount, true)
            }
        }
        return (out, d.bufferedByteCount, false)
    }
    let whole = decode([stream.count])
    let chunked = decode(pieces)
    require(whole.messages == chunked.messages && whole.broken == chunked.broken,
            "the decoder's messages depend on how the stream was cut")
    let consumed = whole.messages.reduce(0) { $0 + XenStoreMessage.headerSize + $1.payload.count }
    require(whole.left == stream.count - consumed, "decoder lost or invented bytes")
    // What the decoder read is exactly what encoding gives back.
    require(whole.messages.flatMap { $0.encoded() } == Array(stream[..<consumed]), "encode ∘ decode ≠ id")
    if whole.broken {
        // Only an oversize length may break the stream.
        var length: UInt32 = 0
        withUnsafeMutableBytes(of: &length) { dst in
            for k in 0..<4 { dst[k] = stream[consumed + 12 + k] }
        }
        require(length > UInt32(XenStoreLimits.payloadMax), "E2BIG for a length of \(length)")
    }
    for m in whole.messages {
        require(m.payload.count <= XenStoreLimits.payloadMax, "decoded an oversize payload")
        do throws(XenStoreError) {
            if case .unsupported(let type) = try XenStoreRequest(m) {
                require(!served.contains(type), "\(type) parsed as unsupported")
            }
        } catch {
            require(error.code == .invalidArgument, "request parsing threw \(error)")
        }
    }
    return whole.messages
}

/// The types a session implements.
let served: Set<XenStoreMessageType> = [
    .read, .write, .mkdir, .rm, .directory, .directoryPart, .getPermissions, .setPermissions, .watch, .unwatch,
    .transactionStart, .transactionEnd, .introduce, .release, .getDomainPath, .isDomainIntroduced, .resetWatches,
]

final class Output: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

/// A fresh engine, one session fed `pieces` of `stream`, closed at the end
/// (or at the first broken header, as the server closes the socket).
func serve(_ stream: [UInt8], pieces: [Int], guest: Bool) -> (output: [UInt8], broken: Bool) {
    let engine = XenStoreEngine()
    var domain = DomID.dom0
    if guest {
        let dom0 = engine.connect()
        do {
            domain = try DomID(5)
            try dom0.introduceDomain(domain)
            try dom0.mkdir("/local/domain/5")
            try dom0.setPermissions("/local/domain/5", XenStorePermissions("n5"))
        } catch {
            fatalError("setting up domain 5: \(error)")
        }
    }
    let out = Output()
    let session = XenStoreServerSession(engine: engine, domain: domain) { b in
        out.bytes.withLock { $0.append(contentsOf: b) }
    }
    var at = 0
    var broken = false
    for n in pieces {
        do throws(XenStoreError) {
            try session.receive(stream[at..<at + n])
        } catch {
            require(error.code == .tooBig, "the session threw \(error)")
            broken = true
            break
        }
        at += n
    }
    session.close()
    return (out.bytes.withLock { $0 }, broken)
}

/// The session's output is a well-formed stream: whole messages of at most
/// 4096 bytes, one reply per request in order with its ids, errors by
/// errno name, and each successful WATCH followed by its first event.
func checkOutput(_ result: (output: [UInt8], broken: Bool), requests: [XenStoreMessage]) {
    var d = XenStoreMessageDecoder()
    d.feed(result.output)
    var sent: [XenStoreMessage] = []
    do throws(XenStoreError) {
        while let m = try d.next() { sent.append(m) }
    } catch {
        require(false, "the session sent an oversize header: \(error)")
    }
    require(d.bufferedByteCount == 0, "the session sent part of a message")
    let errnoNames = Set(XenStoreError.Code.wireErrors.map { Array(($0.name + "\0").utf8) })

    var next = 0
    var expectEvent: [UInt8]?
    for m in sent {
        require(m.payload.count <= XenStoreLimits.payloadMax, "a message of \(m.payload.count) bytes")
        if let e = expectEvent {
            require(m.type == .watchEvent && m.payload == e, "WATCH's first event is not next: \(m)")
            expectEvent = nil
        }
        if m.type == .watchEvent {
            require(m.requestID == 0 && m.transactionID == 0, "event with ids: \(m)")
            require(m.payload.last == 0 && m.payload.count(where: { $0 == 0 }) == 2, "event is not path and token: \(m)")
            continue
        }
        require(next < requests.count, "a reply nobody asked for: \(m)")
        let q = requests[next]
        next += 1
        require(m.requestID == q.requestID && m.transactionID == q.transactionID, "reply \(m) to \(q)")
        if m.type == .error {
            require(errnoNames.contains(m.payload), "error payload \(m)")
            continue
        }
        require(m.type == q.type, "reply type \(m) to \(q)")
        let ok = Array("OK\0".utf8)
        switch q.type {
        case .write, .mkdir, .rm, .setPermissions, .unwatch, .transactionEnd, .introduce, .release, .resetWatches:
            require(m.payload == ok, "\(m) to \(q)")
        case .watch:
            require(m.payload == ok, "\(m) to \(q)")
            // The first event repeats the path and token as sent.
            let parts = q.payload.split(separator: 0, omittingEmptySubsequences: false)
            expectEvent = Array(parts[0]) + [0] + Array(parts[1]) + [0]
        case .transactionStart:
            require(m.payload.count >= 2 && m.payload.last == 0 && m.payload.dropLast().allSatisfy { (48...57).contains($0) },
                    "transaction id \(m)")
        case .isDomainIntroduced:
            require(m.payload == Array("T\0".utf8) || m.payload == Array("F\0".utf8), "\(m)")
        case .getDomainPath:
            require(m.payload.starts(with: Array("/local/domain/".utf8)) && m.payload.last == 0, "\(m)")
        case .directory, .getPermissions:
            require(m.payload.isEmpty || m.payload.last == 0, "\(m)")
        case .directoryPart:
            let nul = m.payload.firstIndex(of: 0)
            require(nul != nil && nul! > 0 && m.payload.last == 0 && m.payload[..<nul!].allSatisfy { (48...57).contains($0) },
                    "\(m)")
        default:
            break   // READ: any bytes
        }
    }
    require(expectEvent == nil, "WATCH acknowledged without its first event")
    require(next == requests.count, "\(requests.count - next) requests not answered")
}
