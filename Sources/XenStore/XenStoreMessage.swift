/// One message of the wire protocol: `struct xsd_sockmsg` (type, request id,
/// transaction id, payload length, each a 32-bit integer in the host's byte
/// order) followed by at most 4096 bytes of payload.
///
/// Pure value: encoding and the reply constructors do no I/O.
public struct XenStoreMessage: Hashable, Sendable, CustomStringConvertible {
    public static let headerSize = 16

    public var type: XenStoreMessageType
    /// Chosen by the client, echoed in the reply; 0 in watch events.
    public var requestID: UInt32
    public var transactionID: UInt32
    public var payload: [UInt8]

    public init(type: XenStoreMessageType, requestID: UInt32 = 0, transactionID: UInt32 = 0, payload: [UInt8] = []) {
        self.type = type
        self.requestID = requestID
        self.transactionID = transactionID
        self.payload = payload
    }

    /// Header and payload as they go on the socket.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.headerSize + payload.count)
        for field in [type.rawValue, requestID, transactionID, UInt32(truncatingIfNeeded: payload.count)] {
            withUnsafeBytes(of: field) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: payload)
        return out
    }

    /// NUL-terminated strings, the payload format of most messages.
    public static func strings(_ parts: [String]) -> [UInt8] {
        var out = [UInt8]()
        for p in parts {
            out.append(contentsOf: p.utf8)
            out.append(0)
        }
        return out
    }

    // MARK: - What a server sends

    /// A successful answer to `request`: same type, request and transaction id.
    public static func reply(to request: XenStoreMessage, _ payload: [UInt8]) -> XenStoreMessage {
        XenStoreMessage(type: request.type, requestID: request.requestID, transactionID: request.transactionID,
                        payload: payload)
    }

    /// `"OK\0"`, the answer to requests that return nothing.
    public static func acknowledge(_ request: XenStoreMessage) -> XenStoreMessage {
        reply(to: request, strings(["OK"]))
    }

    /// `XS_ERROR` with the errno name. Codes that have no name on the wire
    /// (a client-side condition) go out as `EIO`.
    public static func error(to request: XenStoreMessage, _ code: XenStoreError.Code) -> XenStoreMessage {
        let name = XenStoreError.Code.wireErrors.contains(code) ? code.name : XenStoreError.Code.ioError.name
        return XenStoreMessage(type: .error, requestID: request.requestID, transactionID: request.transactionID,
                               payload: strings([name]))
    }

    /// `XS_WATCH_EVENT`: path and token, unsolicited (request id 0).
    public static func watchEvent(path: String, token: String) -> XenStoreMessage {
        XenStoreMessage(type: .watchEvent, payload: strings([path, token]))
    }

    public var description: String {
        let shown = payload.prefix(64).map { $0 == 0 ? "\\0" : ($0 >= 0x20 && $0 < 0x7f ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16)) }.joined()
        return "\(type) req=\(requestID) tx=\(transactionID) len=\(payload.count) \"\(shown)\(payload.count > 64 ? "…" : "")\""
    }
}
