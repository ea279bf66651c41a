import Synchronization

/// One watch's events on their way from the store to the task that reads them.
///
/// The queue is bounded. Without a bound, a reader that stalls would let
/// memory grow as fast as the store changes. An event that does not fit is
/// not queued: the queue is marked overflowed and `offer` says no, and the
/// backend then unregisters the watch and ends it. The reader drains what is
/// queued, sees the end, and `XenStoreWatch.overflowed` tells it that events
/// were lost, so it must re-read what it watches (and watch again). That is
/// inotify's `IN_Q_OVERFLOW`, as an end of the sequence.
final class WatchQueue: Sendable {
    let limit: Int
    let stream: AsyncStream<XenStoreWatchEvent>
    private let continuation: AsyncStream<XenStoreWatchEvent>.Continuation
    private let overflow = Atomic<Bool>(false)
    private let enqueued = Atomic<Int>(0)

    /// `limit` is at least 1, so the registration event always fits.
    init(limit: Int) {
        self.limit = max(1, limit)
        (stream, continuation) = AsyncStream.makeStream(of: XenStoreWatchEvent.self,
                                                        bufferingPolicy: .bufferingOldest(self.limit))
    }

    /// Queues `event`. False when the reader is `limit` events behind: the
    /// event is lost and the caller must end the watch (outside any lock the
    /// unregistration takes: `finish` runs the termination handler at once).
    func offer(_ event: XenStoreWatchEvent) -> Bool {
        switch continuation.yield(event) {
        case .dropped:
            overflow.store(true, ordering: .releasing)
            return false
        case .enqueued:
            // Counted once queued, never before: `delivered` may lag, never lead.
            enqueued.add(1, ordering: .releasing)
            return true
        case .terminated:
            return true
        @unknown default:
            return true
        }
    }

    /// How many events were queued so far. One producer at a time offers
    /// (the reader thread, or the engine under its lock), so these are the
    /// first `delivered` events in the order the reader gets them.
    var delivered: Int { enqueued.load(ordering: .acquiring) }

    /// Ends the sequence after the events already queued.
    func finish() { continuation.finish() }

    var overflowed: Bool { overflow.load(ordering: .acquiring) }

    /// Runs `body` once when the sequence ends, whoever ends it (the store,
    /// the reader cancelling, or the last copy of the sequence going away).
    func onTermination(_ body: @escaping @Sendable () -> Void) {
        continuation.onTermination = { _ in body() }
    }
}
