/// Cuts a byte stream into messages, whatever size the pieces arrive in.
///
/// Feed it what `read` returned, then take messages until `next()` says
/// there is no whole one yet. A header announcing more than 4096 bytes of
/// payload is an error (`E2BIG`): the stream cannot be trusted after it, and
/// cxenstored drops such a client, so the caller closes the connection.
public struct XenStoreMessageDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Bytes received and not yet returned as part of a message.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next whole message, or nil until more bytes arrive.
    public mutating func next() throws(XenStoreError) -> XenStoreMessage? {
        guard bufferedByteCount >= XenStoreMessage.headerSize else { return nil }
        let (buffer, start) = (self.buffer, self.start)
        func field(_ i: Int) -> UInt32 {
            var v: UInt32 = 0
            withUnsafeMutableBytes(of: &v) { dst in
                for k in 0..<4 { dst[k] = buffer[start + 4 * i + k] }
            }
            return v
        }
        let length = Int(field(3))
        guard length <= XenStoreLimits.payloadMax else {
            throw XenStoreError(.tooBig, .parse, detail: "message announces \(length) bytes of payload; at most \(XenStoreLimits.payloadMax) are allowed")
        }
        guard bufferedByteCount >= XenStoreMessage.headerSize + length else { return nil }
        let body = start + XenStoreMessage.headerSize
        let message = XenStoreMessage(type: XenStoreMessageType(rawValue: field(0)), requestID: field(1),
                                      transactionID: field(2), payload: Array(buffer[body..<body + length]))
        self.start = body + length
        // Compact now and then rather than on every message: copying the
        // tail each time would make a long pipelined burst quadratic.
        if self.start == self.buffer.count {
            self.buffer.removeAll(keepingCapacity: true)
            self.start = 0
        } else if self.start > 65536 {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        return message
    }
}
