/// One watch event: the path that changed (or the watched path itself for the
/// registration event). XenStore sends no value: read it if you need it.
public struct XenStoreWatchEvent: Hashable, Sendable, CustomStringConvertible {
    public let path: XenStorePath
    public let token: String
    public init(path: XenStorePath, token: String) {
        self.path = path
        self.token = token
    }
    public var description: String { "\(path) [\(token)]" }
}

/// The events of one registered watch, as an `AsyncSequence`.
///
/// The first event is the registration fire. When iteration ends or the last
/// copy of the sequence goes away, the watch is removed from the store.
public struct XenStoreWatch: AsyncSequence, Sendable {
    public typealias Element = XenStoreWatchEvent
    public let path: XenStorePath
    public let token: String
    let stream: AsyncStream<XenStoreWatchEvent>
    private let lifetime: Lifetime

    /// Ends the watch when the last copy of the sequence is released, so a
    /// watch that is never iterated still gets unregistered.
    final class Lifetime: Sendable {
        let cancel: @Sendable () -> Void
        init(_ cancel: @escaping @Sendable () -> Void) { self.cancel = cancel }
        deinit { cancel() }
    }

    init(path: XenStorePath, token: String, stream: AsyncStream<XenStoreWatchEvent>,
         cancel: @escaping @Sendable () -> Void) {
        self.path = path
        self.token = token
        self.stream = stream
        self.lifetime = Lifetime(cancel)
    }

    /// Unregisters now; a running iteration ends after the events already queued.
    public func cancel() { lifetime.cancel() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<XenStoreWatchEvent>.AsyncIterator
        let lifetime: Lifetime
        public mutating func next() async -> XenStoreWatchEvent? { await base.next() }
        public mutating func next(isolation actor: isolated (any Actor)?) async -> XenStoreWatchEvent? {
            await base.next(isolation: actor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), lifetime: lifetime)
    }
}

/// Hands out unique tokens, so events of different watches never mix.
enum WatchToken {
    static func make(_ serial: UInt64) -> String { "pcistore-\(serial)" }
}
