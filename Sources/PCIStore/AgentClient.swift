import PCIStoreSchema
import XenStore

/// The toolstack's side of the request protocol with one agent
/// (schema/agent.md): put a request in a free slot, wait for its result
/// while watching the heartbeat, take the answered slot back.
///
/// Submitting and clearing happen inside the caller's transaction, together
/// with the device records they go with, so a request and the records'
/// transitional states appear (and go) at once.
public struct AgentClient: Sendable {
    public let store: any XenStoreConnection
    public let domain: DomID
    /// How long `wait` waits for a result in all.
    public var timeout: Duration
    /// How long the heartbeat may stand still before the agent counts as
    /// down. nil: three of the agent's heartbeat intervals, at least
    /// `minimumDownAfter`.
    public var downAfter: Duration?
    public var retry: XenStoreRetryPolicy

    public static let defaultTimeout: Duration = .seconds(60)
    public static let minimumDownAfter: Duration = .seconds(5)

    public init(store: any XenStoreConnection, domain: DomID, timeout: Duration = AgentClient.defaultTimeout,
                downAfter: Duration? = nil, retry: XenStoreRetryPolicy = .default) {
        self.store = store
        self.domain = domain
        self.timeout = timeout
        self.downAfter = downAfter
        self.retry = retry
    }

    var name: String { "agent \(domain)" }

    // MARK: - Inside a transaction

    /// The registration, or a refusal naming the command that makes one.
    func config(_ tx: XenStoreTransaction) throws -> AgentConfig {
        guard let v = try tx.readIfPresent(AgentLayout.config(domain)) else {
            throw PCIStoreError.refused("no agent is registered for domain \(domain) (pcistore agent-register --domain \(domain))")
        }
        do { return try AgentConfig(decoding: String(decoding: v, as: UTF8.self), at: AgentLayout.config(domain).rawValue) }
        catch { throw PCIStoreError.corrupt(error) }
    }

    func request(_ tx: XenStoreTransaction, _ k: Int) throws -> AgentRequest? {
        let p = AgentLayout.request(domain, k)
        do { return try AgentRequest.decode(String(decoding: try tx.read(p), as: UTF8.self), at: p.rawValue) }
        catch let e as SchemaViolation { throw PCIStoreError.corrupt(e) }
    }

    func result(_ tx: XenStoreTransaction, _ k: Int) throws -> AgentResult? {
        let p = AgentLayout.result(domain, k)
        do { return try AgentResult.decode(String(decoding: try tx.read(p), as: UTF8.self), at: p.rawValue) }
        catch let e as SchemaViolation { throw PCIStoreError.corrupt(e) }
    }

    /// The slot holding request `id`, if any.
    func slot(of id: RequestID, _ tx: XenStoreTransaction) throws -> (Int, AgentRequest)? {
        let config = try config(tx)
        for k in 0..<config.slots {
            if let r = try request(tx, k), r.id == id { return (k, r) }
        }
        return nil
    }

    /// Puts `r` in a free slot, with an empty result and reason, and returns
    /// the slot. Refuses a device another request in flight names, and says
    /// the agent is busy when no slot is free. (A request whose id is already
    /// in a slot is the caller's to find first, with `slot(of:)`.)
    func submit(_ r: AgentRequest, _ tx: XenStoreTransaction) throws -> Int {
        if let p = r.problem { throw PCIStoreError.badInput(p) }
        let config = try config(tx)
        var free: Int? = nil
        let mine = Set(r.devices)
        for k in 0..<config.slots {
            guard let other = try request(tx, k) else {
                if free == nil { free = k }
                continue
            }
            if other.id == r.id { throw PCIStoreError.badInput("request id \(r.id) is taken by another request in flight at \(name)") }
            if let a = other.devices.first(where: mine.contains) {
                throw PCIStoreError.refused("\(a) is busy: request \(other.id) (\(other.operation.rawValue)) is in flight at \(name)")
            }
        }
        guard let k = free else {
            throw PCIStoreError(.agentBusy, "all \(config.slots) request slots of \(name) are in use; try again when some are answered")
        }
        try tx.write(AgentLayout.request(domain, k), r.encoded)
        try tx.write(AgentLayout.result(domain, k), "none")
        try tx.write(AgentLayout.reason(domain, k), "")
        return k
    }

    /// Frees slot `k` (which must still hold `id`).
    func clear(_ k: Int, _ id: RequestID, _ tx: XenStoreTransaction) throws {
        guard try request(tx, k)?.id == id else {
            throw PCIStoreError.refused("request \(id) is no longer in slot \(k) of \(name): another command took its result")
        }
        try tx.write(AgentLayout.request(domain, k), "none")
        try tx.write(AgentLayout.result(domain, k), "none")
        try tx.write(AgentLayout.reason(domain, k), "")
    }

    /// The answer in slot `k` to `id` when finished, with its reason.
    func finished(_ k: Int, _ id: RequestID, _ tx: XenStoreTransaction) throws -> (AgentResult, String)? {
        guard let r = try result(tx, k), r.id == id, r.state.isFinished else { return nil }
        let reason = String(decoding: try tx.readIfPresent(AgentLayout.reason(domain, k)) ?? [], as: UTF8.self)
        return (r, reason)
    }

    // MARK: - Waiting

    /// What waiting found.
    public enum Outcome: Sendable {
        case finished(AgentResult, reason: String)
        /// The heartbeat stood still for `downAfter`, or the agent stopped.
        /// `taken` says whether it had taken the request up.
        case down(String, taken: Bool)
        /// `timeout` passed while the agent was alive.
        case timedOut(taken: Bool)
        /// The slot no longer holds the request: another command took the result.
        case gone
    }

    /// Waits for the agent's answer to `id` in slot `k`, without changing
    /// anything. Woken by a watch on the agent's area (results and heartbeat),
    /// and every 100 ms to judge the heartbeat.
    public func wait(for id: RequestID, slot k: Int) async throws -> Outcome {
        let clock = ContinuousClock()
        let start = clock.now
        let watch: XenStoreWatch
        do { watch = try store.watch(AgentLayout.area(domain)) } catch { throw PCIStoreError(error) }
        defer { watch.cancel() }
        let (wake, bell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in watch { bell.yield() }
                bell.yield()
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    bell.yield()
                }
            }
            defer { group.cancelAll() }
            var lastBeat: String? = nil
            var lastChange = clock.now
            var lastLook = clock.now
            for await _ in wake {
                let (answer, taken, beat): ((AgentResult, String)?, Bool?, String) = try transaction { tx in
                    guard try request(tx, k)?.id == id else { return (nil, nil, "") }
                    let beat = String(decoding: try tx.read(AgentLayout.heartbeat(domain)), as: UTF8.self)
                    if let f = try finished(k, id, tx) { return (f, true, beat) }
                    return (nil, try result(tx, k)?.id == id, beat)
                }
                guard let taken else { return .gone }
                if let (r, reason) = answer { return .finished(r, reason: reason) }
                // Time this process was not looking (its wake-ups a second
                // late: suspended, or starved of CPU) is not the agent's fault.
                let now = clock.now
                if beat != lastBeat || now - lastLook > .seconds(1) {
                    lastBeat = beat
                    lastChange = now
                }
                lastLook = now
                let heartbeat = try? AgentHeartbeat.decode(beat, at: "")
                if heartbeat?.state == .stopped {
                    return .down("\(name) stopped (heartbeat \(beat))", taken: taken)
                }
                let limit = downAfter ?? max(Self.minimumDownAfter, .milliseconds(3 * Int64(heartbeat?.intervalMilliseconds ?? 0)))
                if clock.now - lastChange >= limit {
                    let what = beat == "none" ? "has never run (heartbeat none)" : "is down: its heartbeat (\(beat)) stood still for \(Self.seconds(limit)) s"
                    return .down("\(name) \(what)", taken: taken)
                }
                if clock.now - start >= timeout { return .timedOut(taken: taken) }
            }
            // The stream ends only when this task is cancelled: the request
            // stays, for whoever comes next.
            throw CancellationError()
        }
    }

    static func seconds(_ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return s == s.rounded() ? String(Int(s)) : String(s)
    }

    /// A transaction on this client's store, store errors as `PCIStoreError`.
    func transaction<T>(_ body: (XenStoreTransaction) throws -> T) throws -> T {
        do { return try store.transaction(policy: retry, body) } catch let e as XenStoreError { throw PCIStoreError(e) }
    }

    /// What the agent published last (nil: nothing yet).
    public func published() throws -> DiscoveryIndex? {
        try transaction { tx -> DiscoveryIndex? in
            let p = AgentLayout.discoveryIndex(domain)
            guard let v = try tx.readIfPresent(p) else { throw PCIStoreError.refused("no agent is registered for domain \(domain)") }
            do { return try DiscoveryIndex.decode(String(decoding: v, as: UTF8.self), at: p.rawValue) }
            catch let e as SchemaViolation { throw PCIStoreError.corrupt(e) }
        }
    }

    /// The heartbeat as it is now (nil: no agent ever ran).
    public func heartbeat() throws -> AgentHeartbeat? {
        try transaction { tx -> AgentHeartbeat? in
            let p = AgentLayout.heartbeat(domain)
            guard let v = try tx.readIfPresent(p) else { throw PCIStoreError.refused("no agent is registered for domain \(domain)") }
            do { return try AgentHeartbeat.decode(String(decoding: v, as: UTF8.self), at: p.rawValue) }
            catch let e as SchemaViolation { throw PCIStoreError.corrupt(e) }
        }
    }
}
