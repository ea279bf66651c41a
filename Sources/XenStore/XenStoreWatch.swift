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
///
/// The sequence ends by itself in two cases: the connection is gone (closed,
/// or the daemon went away), or the reader fell `queueLimit` events behind
/// (`overflowed`: events were lost). Either way, what the watch covers may
/// have changed unseen: re-read it.
public struct XenStoreWatch: AsyncSequence, Sendable {
    public typealias Element = XenStoreWatchEvent
    public let path: XenStorePath
    public let token: String
    let queue: WatchQueue
    private let lifetime: Lifetime

    /// How many events may wait for the reader when none is asked for:
    /// about 6 MB of paths at most, and far more than a burst of single
    /// changes. A transaction that writes more nodes than this at once, read
    /// by a watcher that is busy, overflows it.
    public static let defaultQueueLimit = 65_536

    /// How many events may wait for the reader before the watch overflows.
    public var queueLimit: Int { queue.limit }

    /// True once an event found the queue full: it was lost, the watch was
    /// removed from the store, and the sequence ends after what is queued.
    public var overflowed: Bool { queue.overflowed }

    /// How many events have reached this watch's queue, the registration
    /// included. The store fires an event only once its change is committed,
    /// so when this is `n`, the changes of the first `n` events (in the
    /// order the sequence yields them) are visible to any read begun after
    /// looking. A reader can skip the queued events a later read covered.
    public var delivered: Int { queue.delivered }

    /// Ends the watch when the last copy of the sequence is released, so a
    /// watch that is never iterated still gets unregistered.
    final class Lifetime: Sendable {
        let cancel: @Sendable () -> Void
        init(_ cancel: @escaping @Sendable () -> Void) { self.cancel = cancel }
        deinit { cancel() }
    }

    /// Ends the watch (`cancel`) when the sequence ends too, so a watch the
    /// store or the reader ends is always unregistered.
    init(path: XenStorePath, token: String, queue: WatchQueue, cancel: @escaping @Sendable () -> Void) {
        self.path = path
        self.token = token
        self.queue = queue
        self.lifetime = Lifetime(cancel)
        queue.onTermination(cancel)
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
        AsyncIterator(base: queue.stream.makeAsyncIterator(), lifetime: lifetime)
    }
}

/// Hands out unique tokens, so events of different watches never mix.
enum WatchToken {
    static func make(_ serial: UInt64) -> String { "pcistore-\(serial)" }
}
