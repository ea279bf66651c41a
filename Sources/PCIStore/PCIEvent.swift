import PCIStoreSchema
import XenStore

/// What happened to the database, as a daemon wants to hear it: typed, one
/// event per device per committed change, carrying the old and new record.
public enum PCIEvent: Sendable, Equatable {
    /// The first event: every device matching the filter, as committed now.
    case snapshot([DeviceRecord])
    case added(DeviceRecord)
    case removed(DeviceRecord)
    /// The record changed; `aspects` says how (several can hold at once).
    case changed(old: DeviceRecord, new: DeviceRecord, aspects: Set<Aspect>)
    /// The stream lost track (its watch ended) and started over: here is a
    /// fresh picture. Whatever happened meanwhile is in it.
    case resync([DeviceRecord])

    public enum Aspect: String, Sendable, Hashable, CaseIterable, Comparable {
        case state, owner, resources, renamed, other
        public static func < (a: Aspect, b: Aspect) -> Bool { a.rawValue < b.rawValue }
    }

    /// The aspects in which `new` differs from `old`.
    static func aspects(_ old: DeviceRecord, _ new: DeviceRecord) -> Set<Aspect> {
        var out: Set<Aspect> = []
        if old.state != new.state { out.insert(.state) }
        if old.domain != new.domain { out.insert(.owner) }
        if old.resources != new.resources { out.insert(.resources) }
        if old.name != new.name { out.insert(.renamed) }
        var a = old, b = new
        (a.state, a.domain, a.resources, a.name) = (b.state, b.domain, b.resources, b.name)
        if a != b { out.insert(.other) }
        return out
    }
}

/// Which devices a stream reports.
public struct PCIEventFilter: Sendable {
    public var devices: Set<SBDF>?
    public var domain: DomID?
    public var state: DeviceState?

    public init(devices: Set<SBDF>? = nil, domain: DomID? = nil, state: DeviceState? = nil) {
        self.devices = devices
        self.domain = domain
        self.state = state
    }

    public func matches(_ r: DeviceRecord) -> Bool {
        (devices?.contains(r.address) ?? true) && (domain.map { r.domain == $0 } ?? true)
            && (state.map { r.state == $0 } ?? true)
    }
}

extension PCIDatabase {
    /// The database as a stream of typed events: a snapshot, then changes.
    ///
    /// Built on one XenStore watch of the device tree. A watch event names a
    /// node, not a value, and fires only after its transaction committed; the
    /// stream reads the whole device it points at, in a transaction, and
    /// compares with what it last reported. So the first node event of a
    /// transaction yields the device's complete committed state and the other
    /// node events of that transaction find nothing new: one event per device
    /// per change, never a half-written device. If the watch ends (the store
    /// closed the connection), the stream re-watches, through `reconnect` when
    /// given, and says `resync` with a fresh snapshot.
    public func events(_ filter: PCIEventFilter = PCIEventFilter(),
                       reconnect: (@Sendable () throws -> PCIDatabase)? = nil) throws -> PCIEventStream {
        try PCIEventStream(db: self, filter: filter, reconnect: reconnect)
    }
}

/// See `PCIDatabase.events(_:reconnect:)`. Dropping the iterator removes the watch.
public struct PCIEventStream: AsyncSequence, Sendable {
    public typealias Element = PCIEvent
    let db: PCIDatabase
    let filter: PCIEventFilter
    let reconnect: (@Sendable () throws -> PCIDatabase)?

    init(db: PCIDatabase, filter: PCIEventFilter, reconnect: (@Sendable () throws -> PCIDatabase)?) throws {
        self.db = db
        self.filter = filter
        self.reconnect = reconnect
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(db: db, filter: filter, reconnect: reconnect)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var db: PCIDatabase
        let filter: PCIEventFilter
        let reconnect: (@Sendable () throws -> PCIDatabase)?
        var watch: XenStoreWatch?
        var events: XenStoreWatch.AsyncIterator?
        /// What was last reported for each device (matching the filter or not:
        /// a device that moves out of the filter still gets its last event).
        var known: [SBDF: DeviceRecord] = [:]
        var queue: [PCIEvent] = []
        var started = false

        init(db: PCIDatabase, filter: PCIEventFilter, reconnect: (@Sendable () throws -> PCIDatabase)?) {
            self.db = db
            self.filter = filter
            self.reconnect = reconnect
        }

        /// Watch first, then read: a change between the two shows up as an
        /// event that finds nothing new, never as a gap.
        mutating func start(resync: Bool) throws {
            let w = try db.store.watch(PCIStoreLayout.devices)
            watch = w
            events = w.makeAsyncIterator()
            let image = try db.read().image
            known = image.devices
            let rows = image.devices.values.filter(filter.matches).sorted { $0.address < $1.address }
            queue.append(resync ? .resync(rows) : .snapshot(rows))
        }

        public mutating func next() async throws -> PCIEvent? {
            if !started {
                started = true
                try start(resync: false)
            }
            while queue.isEmpty {
                guard var it = events else { return nil }
                guard let e = await it.next() else {
                    // The watch ended: the connection went away. Start over.
                    events = nil
                    watch = nil
                    guard let reconnect, !Task.isCancelled else { return nil }
                    db = try reconnect()
                    try start(resync: true)
                    continue
                }
                events = it
                try handle(e.path)
            }
            return queue.removeFirst()
        }

        mutating func handle(_ path: XenStorePath) throws {
            let c = path.components.map(\.rawValue)
            let base = PCIStoreLayout.devices.components.count
            guard c.count >= base + 3, let a = try? SBDF(c[base + 2]), a.nodeName.rawValue == c[base + 2] else {
                // A segment or bus directory (or the tree) changed: e.g. a whole
                // bus removed at once. Compare everything.
                if c.count < base + 3 { try compareAll() }
                return
            }
            let now: DeviceRecord?
            do { now = try db.record(a) } catch let e as PCIStoreError where e.kind == .corrupt { return }
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
