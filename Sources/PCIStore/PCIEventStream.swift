import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// The database as a stream of typed events: a snapshot, then changes.
    ///
    /// Built on one XenStore watch of the device tree. A watch event names a
    /// node, not a value, and fires only after its transaction committed; the
    /// stream reads the whole device it points at, in a transaction, and
    /// compares with what it last reported. So the first node event of a
    /// transaction yields the device's complete committed state and the other
    /// node events of that transaction find nothing new: one event per device
    /// per change, never a half-written device.
    ///
    /// The stream starts over, and says `resync` with a fresh snapshot, when
    /// it may have missed something:
    /// - more than `bufferLimit` node events waited for the consumer (the
    ///   watch overflowed): it watches again on the same connection;
    /// - the connection is gone (closed, or the daemon died or restarted): it
    ///   takes a new one from `reconnect`, trying again with pauses growing
    ///   from 0.1 s to 5 s while the store does not answer. Without
    ///   `reconnect`, it throws the `.unreachable` error instead.
    ///
    /// Dropping the iterator (or cancelling its task) removes the watch.
    public func events(_ filter: PCIEventFilter = PCIEventFilter(), bufferLimit: Int = PCIEventStream.defaultBufferLimit,
                       reconnect: (@Sendable () throws -> PCIDatabase)? = nil) throws -> PCIEventStream {
        PCIEventStream(db: self, filter: filter, bufferLimit: bufferLimit, reconnect: reconnect)
    }
}

/// See `PCIDatabase.events(_:bufferLimit:reconnect:)`.
public struct PCIEventStream: AsyncSequence, Sendable {
    public typealias Element = PCIEvent

    /// The node events that may wait for a consumer before it gets a
    /// `resync` instead: a device change writes 4 to 12 nodes, so this is
    /// thousands of device changes behind.
    public static let defaultBufferLimit = XenStoreWatch.defaultQueueLimit

    let db: PCIDatabase
    let filter: PCIEventFilter
    let bufferLimit: Int
    let reconnect: (@Sendable () throws -> PCIDatabase)?

    public func makeAsyncIterator() -> Iterator {
        Iterator(db: db, filter: filter, bufferLimit: bufferLimit, reconnect: reconnect)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var db: PCIDatabase
        let filter: PCIEventFilter
        let bufferLimit: Int
        let reconnect: (@Sendable () throws -> PCIDatabase)?
        var watch: XenStoreWatch?
        var events: XenStoreWatch.AsyncIterator?
        /// What was last reported for each device (matching the filter or not:
        /// a device that moves out of the filter still gets its last event).
        var known: [SBDF: DeviceRecord] = [:]
        var queue: [PCIEvent] = []
        var started = false
        /// How many events of the current watch were taken (the registration is 1).
        var taken = 0
        /// Events of the current watch up to these numbers are covered by a
        /// read that began after they were delivered: for every device
        /// (`coveredAll`, a whole read), or for one. Such an event brings
        /// nothing new, so the many node events of one transaction cost one
        /// read of the device, not one each, when they wait together.
        var coveredAll = 0
        var covered: [SBDF: Int] = [:]

        init(db: PCIDatabase, filter: PCIEventFilter, bufferLimit: Int, reconnect: (@Sendable () throws -> PCIDatabase)?) {
            self.db = db
            self.filter = filter
            self.bufferLimit = bufferLimit
            self.reconnect = reconnect
        }

        public mutating func next() async throws -> PCIEvent? {
            if !started {
                started = true
                try start(resync: false)
            }
            while queue.isEmpty {
                guard let w = watch, var it = events else { return nil }
                // Once the watch overflowed, what is still queued is stale:
                // a fresh picture is both correct and cheaper.
                if !w.overflowed, let e = await it.next() {
                    events = it
                    taken += 1
                    do {
                        try handle(e.path, w)
                        continue
                    } catch where Self.isLost(error) {
                        // The store went away between the event and the read.
                    }
                }
                // The watch ended, overflowed, or the store stopped answering.
                if Task.isCancelled { return nil }
                guard try await startOver(sameConnection: w.overflowed) else { return nil }
            }
            return queue.removeFirst()
        }

        /// Watch first, then read: a change between the two shows up as an
        /// event that finds nothing new, never as a gap.
        mutating func start(resync: Bool) throws {
            let w = try db.store.watch(PCIStoreLayout.devices, queueLimit: bufferLimit)
            watch = w
            events = w.makeAsyncIterator()
            taken = 0
            covered = [:]
            // The registration (event 1) and whatever came before the read
            // began: the read covers them. Reading everything again for the
            // registration would double the cost of every start.
            coveredAll = Swift.max(1, w.delivered)
            let image = try db.read().image
            known = image.devices
            let rows = image.devices.values.filter(filter.matches).sorted { $0.address < $1.address }
            queue.append(resync ? .resync(rows) : .snapshot(rows))
        }

        /// Drops the old watch and starts again, on the same connection or
        /// on a new one from `reconnect`, waiting for the store as long as it
        /// is unreachable. False when the task was cancelled meanwhile.
        mutating func startOver(sameConnection: Bool) async throws -> Bool {
            events = nil
            watch = nil
            var same = sameConnection
            var pause = Duration.milliseconds(100)
            while true {
                do {
                    if !same, let reconnect { db = try reconnect() }
                    try start(resync: true)
                    return true
                } catch where Self.isLost(error) && reconnect != nil {
                    events = nil
                    watch = nil
                    same = false
                    try? await Task.sleep(for: pause)
                    if Task.isCancelled { return false }
                    pause = Swift.min(pause * 2, .seconds(5))
                }
            }
        }

        /// Whether `error` says the store is gone (rather than refusing something).
        static func isLost(_ error: any Error) -> Bool {
            if let e = error as? XenStoreError { return e.code == .unreachable }
            if let e = error as? PCIStoreError { return e.store?.code == .unreachable }
            return false
        }

        /// The event numbered `taken` of `watch`, which names `path`.
        mutating func handle(_ path: XenStorePath, _ watch: XenStoreWatch) throws {
            if taken <= coveredAll { return }
            let c = path.components.map(\.rawValue)
            let base = PCIStoreLayout.devices.components.count
            guard c.count >= base + 3, let a = try? SBDF(c[base + 2]), a.nodeName.rawValue == c[base + 2] else {
                // A segment or bus directory (or the tree) changed: e.g. a whole
                // bus removed at once. Compare everything.
                if c.count < base + 3 {
                    let before = watch.delivered
                    try compareAll()
                    coveredAll = Swift.max(before, taken)
                }
                return
            }
            if let through = covered[a], taken <= through { return }
            let before = watch.delivered
            let now: DeviceRecord?
            do { now = try db.record(a) } catch let e as PCIStoreError where e.kind == .corrupt { return }
            covered[a] = Swift.max(before, taken)
            emit(a, now)
        }

        mutating func compareAll() throws {
            let image = try db.read().image
            for a in Set(known.keys).union(image.devices.keys).sorted() { emit(a, image.devices[a]) }
        }

        mutating func emit(_ a: SBDF, _ now: DeviceRecord?) {
            let before = known[a]
            known[a] = now
            switch (before, now) {
            case (nil, let n?):
                if filter.matches(n) { queue.append(.added(n)) }
            case (let b?, nil):
                if filter.matches(b) { queue.append(.removed(b)) }
            case (let b?, let n?) where b != n:
                if filter.matches(b) || filter.matches(n) {
                    queue.append(.changed(old: b, new: n, aspects: PCIEvent.aspects(b, n)))
                }
            default:
                break
            }
        }
    }
}
