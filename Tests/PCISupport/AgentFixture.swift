import Foundation
import Synchronization
import PCIStore
import PCIStoreSchema
import XenStore
import XenStoreTestSupport

/// A toolstack and a hardware-domain agent sharing one store: the toolstack
/// is dom0; the agent is domain 7, unprivileged on the engine (held to its
/// permissions and quotas) and, on the real xenstored, privileged (a socket
/// is always dom0) but serving the same area. The bus is a fake sysfs with
/// its kernel stand-in running; only the agent touches it.
public final class AgentFixture: @unchecked Sendable {
    public static let agentDomain = try! DomID(7)
    public static let guestDomain = try! DomID(9)

    public let backend: Backend
    public let host: FakeSysfs
    public let engine: XenStoreEngine?
    public let daemon: RealXenStored?
    /// The toolstack's (dom0) connection and database.
    public let store: any XenStoreConnection
    public let db: PCIDatabase
    public let events = AgentLog()

    public init(_ backend: Backend, host: FakeSysfs? = nil, quotas: XenStoreQuotas = .cxenstored,
                config: AgentConfig = AgentConfig(), startKernel: Bool = true) throws {
        self.backend = backend
        self.host = try host ?? FakeSysfs.standardHost()
        if startKernel { try self.host.startKernel() }
        switch backend {
        case .engine:
            let e = XenStoreEngine(quotas: quotas)
            engine = e
            daemon = nil
            store = e.connect()
        case .xenstored:
            let d = try RealXenStored.start()
            daemon = d
            engine = nil
            store = try d.connect()
        case .served:
            fatalError("the agent tests run on the engine and on xenstored")
        }
        try store.introduceDomain(Self.agentDomain)
        try store.introduceDomain(Self.guestDomain)
        db = PCIDatabase(store: store, actor: ChangeActor(now: { 1_764_100_800 }))
        _ = try db.registerAgent(Self.agentDomain, config: config)
    }

    deinit {
        store.close()
        daemon?.stop()
    }

    /// A connection as the agent's domain: unprivileged on the engine.
    public func agentConnection() throws -> any XenStoreConnection {
        if let engine { return engine.connect(as: Self.agentDomain) }
        return try daemon!.connect()
    }

    /// A connection as a guest (engine only: the daemon's socket is dom0).
    public func guestConnection() -> any XenStoreConnection {
        engine!.connect(as: Self.guestDomain)
    }

    /// Another dom0 connection, for a second toolstack process.
    public func toolstackConnection() throws -> any XenStoreConnection {
        if let engine { return engine.connect() }
        return try daemon!.connect()
    }

    public func agent(_ store: (any XenStoreConnection)? = nil, heartbeat: Duration = .milliseconds(200),
                      pageBytes: Int = AgentLayout.pageBytes,
                      interruption: (@Sendable (String) -> Bool)? = nil) throws -> HardwareAgent {
        HardwareAgent(domain: Self.agentDomain, store: try store ?? agentConnection(), sysfs: host.sysfs(),
                      options: .init(heartbeat: heartbeat, refresh: .seconds(60), pageBytes: pageBytes),
                      interruption: interruption, now: { 1_764_100_801 }, onEvent: events.add)
    }

    /// Runs an agent until `stop()`; what it threw is in `outcome`.
    public final class Running: @unchecked Sendable {
        let task: Task<Void, Error>
        init(_ agent: HardwareAgent) { task = Task { try await agent.run() } }
        public func stop() async throws {
            task.cancel()
            try await task.value
        }
        /// Waits for the agent to end by itself (killed by its interruption).
        public var outcome: Result<Void, Error> { get async { await task.result } }
    }

    public func start(_ agent: HardwareAgent) -> Running { Running(agent) }

    /// The toolstack's client: patient enough that a loaded machine never
    /// makes a live agent look down (the agent's heartbeat and the waiting
    /// toolstack share this process's task pool with the whole suite).
    public func client(timeout: Duration = .seconds(300), downAfter: Duration? = .seconds(30),
                       store: (any XenStoreConnection)? = nil) -> AgentClient {
        AgentClient(store: store ?? self.store, domain: Self.agentDomain, timeout: timeout, downAfter: downAfter)
    }

    public func record(_ a: String) throws -> DeviceRecord {
        try db.record(SBDF(a))!
    }

    /// Every node under /local/pci with its permissions, for "nothing changed".
    public func tree() throws -> [String] {
        try store.subtree(PCIStoreLayout.root).map { "\($0.path)=\(String(decoding: $0.value, as: UTF8.self)) \($0.permissions)" }
    }

    /// The nodes a domain owns under /local/pci.
    public func owned(by d: DomID) throws -> [String] {
        try store.subtree(PCIStoreLayout.root).filter { $0.permissions.owner == d }.map(\.path.rawValue)
    }

    /// Polls `condition` until it holds or `seconds` passed. Generous: the
    /// whole suite shares a task pool as wide as the machine's two cores
    /// with tests that keep it busy for a minute and more.
    public func eventually(seconds: Double = 180, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() && Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
        return try condition()
    }

    /// The slot holding request `id`, once the toolstack has written it.
    public func slot(of id: RequestID) throws -> Int? {
        try db.agentAreas().areas[Self.agentDomain]?.slots.firstIndex { $0.request?.id == id }
    }
}

/// What an agent reported, kept for the test to look at.
public final class AgentLog: Sendable {
    private let events = Mutex<[HardwareAgent.Event]>([])
    public init() {}
    public func add(_ e: HardwareAgent.Event) { events.withLock { $0.append(e) } }
    public var all: [HardwareAgent.Event] { events.withLock { $0 } }

    public var answered: [(AgentRequest, AgentResult, String, Bool)] {
        all.compactMap { if case .answered(let q, let r, let why, let rec) = $0 { (q, r, why, rec) } else { nil } }
    }
    public var problems: [String] {
        all.compactMap { if case .problem(let p) = $0 { p } else { nil } }
    }
    public var starts: Int {
        all.filter { if case .started = $0 { true } else { false } }.count
    }
    public var published: [DiscoveryIndex] {
        all.compactMap { if case .published(let i) = $0 { i } else { nil } }
    }

    /// Waits until `done` holds, or `seconds` passed.
    @discardableResult
    public func wait(seconds: Double = 180, until done: (AgentLog) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !done(self) && Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
        return done(self)
    }
}
