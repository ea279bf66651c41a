import Dispatch
import PCIStoreSchema
import Synchronization
import XenStore
#if canImport(Glibc)
import Glibc
#endif

/// The agent that runs in the domain owning a PCI bus (dom0, or a driver
/// domain such as DomD) and does on that bus what the toolstack asks through
/// XenStore (schema/agent.md): it publishes discovery, executes seize, rebind,
/// reset and rediscover requests, answers each, and beats a heartbeat.
///
/// It writes only values into nodes dom0 created for it, so an unprivileged
/// agent owns no node and stays far inside cxenstored's quotas: one watch,
/// one transaction at a time, no value over `AgentLayout.pageBytes`.
///
/// `run()` returns when its task is cancelled, after the request under way
/// and a last heartbeat saying `stopped`. An agent that dies mid-request
/// finds the request `running` when it starts again and finishes it or
/// rolls it back from its journal.
public struct HardwareAgent: Sendable {
    public struct Options: Sendable {
        /// How often the heartbeat is written.
        public var heartbeat: Duration
        /// How often the bus is read again and discovery republished (when it changed).
        public var refresh: Duration
        /// The longest value the agent writes (a discovery page).
        public var pageBytes: Int

        public init(heartbeat: Duration = .seconds(2), refresh: Duration = .seconds(30), pageBytes: Int = AgentLayout.pageBytes) {
            self.heartbeat = heartbeat
            self.refresh = refresh
            self.pageBytes = pageBytes
        }
    }

    /// What the agent did, for the caller to print or log.
    public enum Event: Sendable {
        /// Serving: its registration, and how many requests it found running
        /// (left by an agent that died) when it started.
        case started(AgentConfig)
        /// A request answered; `recovered` when it was found running at start.
        case answered(AgentRequest, AgentResult, reason: String, recovered: Bool)
        /// A new discovery was published.
        case published(DiscoveryIndex)
        /// Something it could not do on its own account (a bus it cannot
        /// read, a page the store refused, a malformed request); it carries on.
        case problem(String)
        /// The store went away; the agent is reconnecting.
        case disconnected(PCIStoreError)
    }

    /// Thrown by `run()` when `interruption` stopped it: nothing more was
    /// written, as if the process had been killed there.
    public struct Killed: Error, Sendable {}

    public let domain: DomID
    public let store: any XenStoreConnection
    public let sysfs: Sysfs
    public var options: Options
    public let reconnect: (@Sendable () throws -> any XenStoreConnection)?
    /// Asked before every sysfs step with the step's description; true stops
    /// the agent there, as if killed (tests use it to crash mid-request).
    let interruption: (@Sendable (String) -> Bool)?
    let onEvent: @Sendable (Event) -> Void
    let now: @Sendable () -> Int64

    public init(domain: DomID, store: any XenStoreConnection, sysfs: Sysfs, options: Options = Options(),
                reconnect: (@Sendable () throws -> any XenStoreConnection)? = nil,
                interruption: (@Sendable (String) -> Bool)? = nil,
                now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) },
                onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.domain = domain
        self.store = store
        self.sysfs = sysfs
        self.options = options
        self.reconnect = reconnect
        self.interruption = interruption
        self.now = now
        self.onEvent = onEvent
    }

    /// Serves until the task is cancelled. Throws when the start fails (no
    /// registration, no permission) or the store is lost without `reconnect`.
    public func run() async throws {
        var store = self.store
        var first = true
        let beat = Beat()
        while !Task.isCancelled {
            guard let lost = try await session(store, first: first, beat) else { return }
            store.close()
            onEvent(.disconnected(lost))
            guard let reconnect else { throw lost }
            guard let next = await reconnected(reconnect) else { return }
            store = next
            first = false
        }
    }

    /// One connection's life; nil when cancelled, the error when the store was lost.
    private func session(_ store: any XenStoreConnection, first: Bool, _ beat: Beat) async throws -> PCIStoreError? {
        var config: AgentConfig
        let watch: XenStoreWatch
        do {
            config = try readConfig(store)
            try beat.start(from: store, domain)
            try writeHeartbeat(store, beat, .up)
            watch = try store.watch(AgentLayout.requests(domain))
        } catch let e as PCIStoreError where e.store?.code == .unreachable && !first {
            return e
        } catch let e as XenStoreError {
            if e.code == .unreachable && !first { return PCIStoreError(e) }
            throw PCIStoreError(e)
        }
        defer { watch.cancel() }
        onEvent(.started(config))
        let bell = AgentBell()
        bell.ring(.refresh)
        bell.ring(.all)
        let options = self.options
        let outcome: PCIStoreError? = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await e in watch { bell.ring(Self.slot(of: e.path, self.domain).map { .slot($0) } ?? .all) }
                if !Task.isCancelled {
                    bell.ring(.lost(PCIStoreError(XenStoreError(.unreachable, .watch, path: watch.path.rawValue,
                                                                   detail: "the watch ended: the store closed the connection"))))
                }
            }
            group.addTask {
                // The heartbeat beats apart from the work, so a long request
                // is "slow", never "down"; a write that fails finds a lost store.
                while !Task.isCancelled {
                    try? await Task.sleep(for: options.heartbeat)
                    if Task.isCancelled { return }
                    do throws(XenStoreError) {
                        try self.writeHeartbeat(store, beat, .up)
                    } catch where error.code == .unreachable {
                        bell.ring(.lost(PCIStoreError(error)))
                        return
                    } catch {
                        self.onEvent(.problem("heartbeat: \(error)"))
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: options.refresh)
                    bell.ring(.refresh)
                }
            }
            defer { group.cancelAll() }
            // The bus work blocks (sysfs writes wait for the kernel to act): it
            // runs on a thread of its own, never on the tasks' shared pool.
            let worker = DispatchQueue(label: "pcistore.agent.\(domain)")
            for await _ in bell.rings {
                let work = bell.take()
                if let lost = work.lost { return lost }
                let before = config
                let turn: Result<(AgentConfig, PCIStoreError?), any Error> = await withCheckedContinuation { done in
                    worker.async {
                        done.resume(returning: Result {
                            var c = before
                            let lost = try self.turn(work, store, &c)
                            return (c, lost)
                        })
                    }
                }
                let (now, lost) = try turn.get()
                config = now
                if let lost { return lost }
                if work.slots.contains(where: { $0 >= config.slots }) { bell.ring(.all) }
            }
            return nil
        }
        if let outcome { return outcome }
        // Cancelled: say so, so the toolstack need not wait out a stale heartbeat.
        try? writeHeartbeat(store, beat, .stopped)
        return nil
    }

    /// One turn of the loop: read the registration again (re-registering may
    /// change the slots or pages), publish when asked, handle the slots that
    /// changed. Returns the error when the store is lost; other failures are
    /// told and borne.
    private func turn(_ work: AgentBell.Work, _ store: any XenStoreConnection,
                      _ config: inout AgentConfig) throws -> PCIStoreError? {
        do {
            config = try readConfig(store)
            if work.refresh {
                do { try publish(store, config) } catch let e as PCIStoreError where e.store?.code != .unreachable {
                    onEvent(.problem(e.message))
                }
            }
            let slots = work.all ? Array(0..<config.slots) : work.slots.sorted()
            for k in slots where k < config.slots { try handle(store, config, k) }
        } catch let e as PCIStoreError where e.store?.code == .unreachable {
            return e
        } catch let e as PCIStoreError {
            onEvent(.problem(e.message))
        }
        return nil
    }

    /// The slot a watch event names, if it names one.
    static func slot(of path: XenStorePath, _ d: DomID) -> Int? {
        guard path.parent == AgentLayout.requests(d), let n = path.name else { return nil }
        return Int(n.rawValue)
    }

    func readConfig(_ store: any XenStoreConnection) throws -> AgentConfig {
        let p = AgentLayout.config(domain)
        let text: String
        do {
            text = try store.readString(p)
        } catch where error.code == .notFound {
            throw PCIStoreError.refused("domain \(domain) has no agent registration at \(AgentLayout.area(domain)); run `pcistore agent-register --domain \(domain)` in dom0")
        } catch where error.code == .accessDenied {
            // Permission denied stays a store error, so the CLI exits 77.
            throw PCIStoreError(XenStoreError(.accessDenied, .read, path: p.rawValue,
                                              detail: "this domain may not read agent \(domain)'s registration: wrong --domain, or dom0 has not run `pcistore agent-register --domain \(domain)`"))
        } catch {
            throw PCIStoreError(error)
        }
        do { return try AgentConfig(decoding: text, at: p.rawValue) } catch { throw PCIStoreError.corrupt(error) }
    }

    func writeHeartbeat(_ store: any XenStoreConnection, _ beat: Beat, _ state: AgentHeartbeat.State) throws(XenStoreError) {
        let ms = options.heartbeat.components.seconds * 1000 + options.heartbeat.components.attoseconds / 1_000_000_000_000_000
        let h = AgentHeartbeat(seq: beat.next(), pid: getpid(), intervalMilliseconds: UInt64(max(1, ms)), at: now(), state: state)
        try store.write(AgentLayout.heartbeat(domain), h.encoded)
    }

    /// A new connection from `reconnect`, trying again with growing pauses
    /// (0.1 s doubling to 5 s); nil when cancelled first.
    private func reconnected(_ reconnect: @Sendable () throws -> any XenStoreConnection) async -> (any XenStoreConnection)? {
        var pause = Duration.milliseconds(100)
        while !Task.isCancelled {
            if let s = try? reconnect() { return s }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
        return nil
    }
}

/// The heartbeat's sequence number: it goes on from what the node holds, so
/// a restarted agent's first beat is a change too.
final class Beat: Sendable {
    private let seq = Mutex<UInt64>(0)

    func start(from store: any XenStoreConnection, _ d: DomID) throws(XenStoreError) {
        let p = AgentLayout.heartbeat(d)
        let old = try? AgentHeartbeat.decode(try store.readString(p), at: p.rawValue)
        seq.withLock { $0 = max($0, old?.seq ?? 0) }
    }

    func next() -> UInt64 { seq.withLock { $0 += 1; return $0 } }
}

/// Where the watch and the timers leave word for the agent's loop: which
/// slots changed, whether to look at all of them or read the bus again, or
/// that the store is lost. Any number of rings while the loop works become
/// one more turn after it.
final class AgentBell: Sendable {
    enum Word: Sendable {
        case slot(Int)
        case all
        case refresh
        case lost(PCIStoreError)
    }

    struct Work {
        var slots: Set<Int> = []
        var all = false
        var refresh = false
        var lost: PCIStoreError? = nil
    }

    private let state = Mutex(Work())
    let rings: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (rings, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func ring(_ word: Word) {
        state.withLock { w in
            switch word {
            case .slot(let k): w.slots.insert(k)
            case .all: w.all = true
            case .refresh: w.refresh = true
            case .lost(let e): w.lost = w.lost ?? e
            }
        }
        continuation.yield()
    }

    func take() -> Work {
        state.withLock { w in
            defer { w = Work() }
            return w
        }
    }
}
