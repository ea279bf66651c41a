import PCIStoreSchema
import XenStore

/// The operations for devices whose bus another domain's agent owns: the
/// same records and rules as acting on the bus directly, but every sysfs step
/// is a request to the agent (schema/agent.md).
///
/// A binding change moves the records to `seizing` or `returning` in the
/// transaction that writes the request, and on in the one that takes the
/// answer back; the request slot is the journal (the agent journals on its
/// side), so no `pending/` entry is written. If this process dies while it
/// waits, the next command for that agent (or `agent-wait ID`) applies the
/// answer; `collectAgentResults` does that.
extension PCIDatabase {
    /// Waits for `id` in slot `k` and turns what waiting found into an error
    /// when it is not an answer. On a dead or slow agent, a request not yet
    /// taken up is withdrawn (and `revert` undoes what submitting did to the
    /// records) so that a failed command leaves nothing behind.
    func answer(_ agent: AgentClient, _ id: RequestID, slot k: Int,
                revert: (DatabaseTransaction) throws -> Void) async throws -> (AgentResult, String) {
        let outcome = try await agent.wait(for: id, slot: k)
        func withdrawn() throws -> Bool {
            try transaction { t in
                guard try agent.request(t.tx, k)?.id == id, try agent.result(t.tx, k)?.id != id else { return false }
                try agent.clear(k, id, t.tx)
                try revert(t)
                _ = try t.commit(apply: true)
                return true
            }
        }
        let later = "the agent finishes or rolls it back, and the next pcistore command for \(agent.name) (or `pcistore agent-wait \(id)`) applies the result"
        switch outcome {
        case .finished(let r, let reason): return (r, reason)
        case .gone: throw PCIStoreError.refused("request \(id) left slot \(k) of \(agent.name): another command took its result")
        case .down(let why, let taken):
            if !taken, try withdrawn() { throw PCIStoreError(.agentDown, "\(why); request \(id) was withdrawn, nothing was done") }
            throw PCIStoreError(.agentDown, "\(why), in the middle of request \(id); \(later)")
        case .timedOut(let taken):
            if !taken, try withdrawn() {
                throw PCIStoreError(.agentBusy, "\(agent.name) is alive but did not take up request \(id) within \(AgentClient.seconds(agent.timeout)) s; it was withdrawn, nothing was done")
            }
            throw PCIStoreError(.agentBusy, "request \(id) is still running at \(agent.name) after \(AgentClient.seconds(agent.timeout)) s (the agent is alive); \(later)")
        }
    }

    /// The failure an answer reports, as an error naming the agent and its reason.
    static func failure(_ agent: AgentClient, _ r: AgentResult, _ reason: String) -> PCIStoreError {
        PCIStoreError(.agentFailed, "\(agent.name) could not \(r.operation.rawValue): \(reason.isEmpty ? "no reason given" : reason)")
    }

    func newRequestID(_ given: RequestID?) -> RequestID {
        given ?? RequestID.make(time: actor.now(), pid: ProcessIdentity.current.pid)
    }

    func request(_ id: RequestID, _ op: AgentOperation, _ devices: [SBDF], driver: DriverName? = nil) -> AgentRequest {
        let me = ProcessIdentity.current
        return AgentRequest(id: id, operation: op, devices: devices, driver: driver, pid: me.pid, start: me.start, at: actor.now())
    }

    // MARK: - Binding

    /// `assignable-add` for an agent's devices: `present` → `seizing` with the
    /// seize request, in one transaction; the agent seizes all of them or
    /// rolls back; the answer makes them `assignable` with the drivers the
    /// agent took them from (or `present` again on failure).
    public func assignableAdd(_ targets: [SBDF], name: DeviceName? = nil, stub: DriverName, agent: AgentClient,
                              requestID: RequestID? = nil, dryRun: Bool = false) async throws -> Report {
        let targets = Array(Set(targets)).sorted()
        guard !targets.isEmpty else { throw PCIStoreError.badInput("no device given") }
        if name != nil && targets.count > 1 { throw PCIStoreError.badInput("--name names one device; \(targets.count) given") }
        if targets.count > AgentLayout.maxDevicesPerRequest {
            throw PCIStoreError.badInput("\(targets.count) devices at once; an agent seizes at most \(AgentLayout.maxDevicesPerRequest) in one request, so add them in several commands")
        }
        if !dryRun { _ = try collectAgentResults(agent) }
        let id = newRequestID(requestID)
        let stamp = actor.stamp("assignable-add")
        let (submitted, first): (Submitted?, Report) = try transaction { t in
            var report = Report()
            if let (k, existing) = try agent.slot(of: id, t.tx) {
                guard existing.operation == .seize, existing.devices == targets else {
                    throw PCIStoreError.badInput("request id \(id) is taken by another request (\(existing.operation.rawValue)) at \(agent.name)")
                }
                report.notes.append("request \(id) is in flight already; waiting for it")
                return (Submitted(slot: k, request: existing, staged: []), report)
            }
            var staged: [DeviceRecord] = []
            var before: [SBDF: DeviceRecord] = [:]
            for a in targets {
                var r = try t.existing(a)
                before[a] = r
                switch r.state {
                case .assignable:
                    report.notes.append("\(a) is already assignable (held by \(r.stub.map { "\($0)" } ?? "no stub"))")
                    continue
                case .assigned:
                    throw PCIStoreError.refused("\(a) is assigned to domain \(r.domain.map { "\($0)" } ?? "none"); release it first")
                case .seizing, .returning:
                    throw PCIStoreError.refused("\(a) is busy: another command is changing its binding")
                case .present:
                    break
                }
                if let name, let holder = try t.holder(of: name), holder != a, (try t.record(holder))?.name == name {
                    throw PCIStoreError.refused("the name \(name) is taken by \(holder)")
                }
                r.state = .seizing
                r.stub = stub
                r.changed = stamp
                t.stage(r)
                staged.append(r)
            }
            if staged.isEmpty { return (nil, report) }
            let req = request(id, .seize, staged.map(\.address), driver: stub)
            report.add(try t.commit(apply: !dryRun))
            let k = dryRun ? -1 : try agent.submit(req, t.tx)
            return (Submitted(slot: k, request: req, staged: staged, before: before), report)
        }
        var report = first
        guard let submitted else { return report }
        let req = submitted.request
        if !submitted.staged.isEmpty {
            report.add([.write(dryRun ? AgentLayout.requests(agent.domain).appending(child: "K") : AgentLayout.request(agent.domain, submitted.slot), req.encoded)])
        }
        report.add(actions: ["agent \(agent.domain): seize \(req.devices.map(\.description).joined(separator: " ")) for \(stub)"])
        if dryRun {
            // What a `done` answer would make of them (the agent reports the drivers).
            for old in submitted.staged {
                var r = old
                r.state = .assignable
                r.name = name ?? r.name
                report.add(Change.diff(old, r))
                report.devices.append(r)
            }
            return report
        }
        return try await settle(submitted, name: name, agent: agent, after: report)
    }

    /// A request written into a slot, with the records it moved.
    /// Waits for the agent's answer to a submitted request, then frees its
    /// slot and applies the answer in one transaction; a `failed` answer
    /// (records put back) is thrown with the agent's reason.
    private func settle(_ submitted: Submitted, name: DeviceName?, agent: AgentClient,
                        after report: Report) async throws -> Report {
        let req = submitted.request
        let (result, reason) = try await answer(agent, req.id, slot: submitted.slot) { t in
            try self.revert(req, t, to: submitted.before)
        }
        let (final, last): ([DeviceRecord], Report) = try transaction { t in
            var out = Report()
            try agent.clear(submitted.slot, req.id, t.tx)
            let applied = try applyAnswer(req, result, name: name, t, before: submitted.before)
            out.add(try t.commit(apply: true))
            return (applied, out)
        }
        if result.state == .failed { throw Self.failure(agent, result, reason) }
        var report = report
        report.append(last)
        report.devices = final
        return report
    }

    struct Submitted {
        var slot: Int
        var request: AgentRequest
        /// The records as the request left them, and as they were before.
        var staged: [DeviceRecord]
        var before: [SBDF: DeviceRecord] = [:]
    }

    /// `assignable-remove --rebind` for an agent's device: `returning` with the
    /// rebind request; the answer makes it `present` on its original driver
    /// (or `assignable` again on failure, back on its stub).
    public func assignableRemove(_ a: SBDF, agent: AgentClient, requestID: RequestID? = nil,
                                 dryRun: Bool = false) async throws -> Report {
        if !dryRun { _ = try collectAgentResults(agent) }
        let id = newRequestID(requestID)
        let (submitted, first): (Submitted, Report) = try transaction { t in
            var report = Report()
            if let (k, existing) = try agent.slot(of: id, t.tx) {
                guard existing.operation == .rebind, existing.devices == [a] else {
                    throw PCIStoreError.badInput("request id \(id) is taken by another request (\(existing.operation.rawValue)) at \(agent.name)")
                }
                report.notes.append("request \(id) is in flight already; waiting for it")
                return (Submitted(slot: k, request: existing, staged: []), report)
            }
            var r = try t.existing(a)
            let before = r
            switch r.state {
            case .assigned: throw PCIStoreError.refused("\(a) is assigned to domain \(r.domain.map { "\($0)" } ?? "none"); release it first")
            case .seizing, .returning: throw PCIStoreError.refused("\(a) is busy: another command is changing its binding")
            case .present: guard r.stub != nil else { throw PCIStoreError.refused("\(a) is not assignable") }
            case .assignable: break
            }
            r.state = .returning
            r.changed = actor.stamp("assignable-remove")
            t.stage(r)
            let req = request(id, .rebind, [a], driver: r.originalDriver)
            report.add(try t.commit(apply: !dryRun))
            let k = dryRun ? -1 : try agent.submit(req, t.tx)
            return (Submitted(slot: k, request: req, staged: [r], before: [a: before]), report)
        }
        var report = first
        let req = submitted.request
        if !submitted.staged.isEmpty {
            report.add([.write(dryRun ? AgentLayout.requests(agent.domain).appending(child: "K") : AgentLayout.request(agent.domain, submitted.slot), req.encoded)])
        }
        report.add(actions: ["agent \(agent.domain): rebind \(a) to \(req.driver.map(\.rawValue) ?? "no driver")"])
        if dryRun {
            for old in submitted.staged {
                var r = old
                r.state = .present
                r.stub = nil
                r.name = nil
                report.add(Change.diff(old, r))
                report.devices.append(r)
            }
            return report
        }
        return try await settle(submitted, name: nil, agent: agent, after: report)
    }

    /// Applies a finished seize or rebind to the records of its devices that
    /// are still in the transitional state it left them in, and returns them.
    /// Resets and rediscoveries change no record here.
    /// `before`, when the caller knows it, is what a failure puts back exactly.
    func applyAnswer(_ req: AgentRequest, _ res: AgentResult, name: DeviceName?, _ t: DatabaseTransaction,
                     before: [SBDF: DeviceRecord] = [:]) throws -> [DeviceRecord] {
        var out: [DeviceRecord] = []
        let stamp = actor.stamp(req.operation == .seize ? "assignable-add" : "assignable-remove")
        for (i, a) in req.devices.enumerated() {
            guard var r = try t.record(a) else { continue }
            if res.state == .failed, r.state.isTransitional, let old = before[a] {
                t.stage(old)
                out.append(old)
                continue
            }
            switch (req.operation, res.state, r.state) {
            case (.seize, .done, .seizing):
                let before = i < res.outcome.count ? AgentResult.driver(res.outcome[i]) : r.originalDriver
                if before != req.driver { r.originalDriver = before }
                r.state = .assignable
                r.stub = req.driver
                if let name {
                    if let holder = try t.holder(of: name), holder != a, (try t.record(holder))?.name == name {
                        // Taken while the agent worked: the device is seized all the same.
                    } else {
                        r.name = name
                    }
                }
            case (.seize, .failed, .seizing):
                r.state = .present
                r.stub = nil
            case (.rebind, .done, .returning):
                r.state = .present
                r.stub = nil
                r.name = nil
            case (.rebind, .failed, .returning):
                r.state = .assignable
            default:
                continue
            }
            r.changed = stamp
            t.stage(r)
            out.append(r)
        }
        return out
    }

    /// Undoes what submitting `req` did to the records (a request withdrawn):
    /// back to `before` where known, else out of the transitional state.
    func revert(_ req: AgentRequest, _ t: DatabaseTransaction, to before: [SBDF: DeviceRecord]) throws {
        for a in req.devices {
            guard let r = try t.record(a), r.state.isTransitional, let old = before[a] else { continue }
            t.stage(old)
        }
        switch req.operation {
        case .seize: try revertSeize(req, t)
        case .rebind: try revertRebind(req, t)
        case .reset, .rediscover: break
        }
    }

    func revertSeize(_ req: AgentRequest, _ t: DatabaseTransaction) throws {
        for a in req.devices {
            guard var r = try t.record(a), r.state == .seizing else { continue }
            r.state = .present
            r.stub = nil
            t.stage(r)
        }
    }

    func revertRebind(_ req: AgentRequest, _ t: DatabaseTransaction) throws {
        for a in req.devices {
            guard var r = try t.record(a), r.state == .returning else { continue }
            r.state = .assignable
            t.stage(r)
        }
    }

    // MARK: - Resets

    /// Resets `devices` through the agent, at most `maxDevicesPerRequest` a
    /// request, one request after the other; returns each device's method
    /// (`failed` when the agent could not reset it).
    func resetThroughAgent(_ devices: [SBDF], _ agent: AgentClient, requestID: RequestID?) async throws -> [SBDF: String] {
        var methods: [SBDF: String] = [:]
        let chunks = stride(from: 0, to: devices.count, by: AgentLayout.maxDevicesPerRequest).map {
            Array(devices[$0..<min($0 + AgentLayout.maxDevicesPerRequest, devices.count)])
        }
        for (n, chunk) in chunks.enumerated() {
            let base = newRequestID(requestID)
            let id = n == 0 ? base : (try? RequestID("\(base.rawValue.prefix(60))-\(n + 1)")) ?? newRequestID(nil)
            let req = request(id, .reset, chunk)
            let (result, reason) = try await send(.reset, chunk, agent: agent, requestID: id)
            for (i, a) in req.devices.enumerated() {
                methods[a] = i < result.outcome.count ? result.outcome[i] : "failed"
            }
            if result.state == .failed && result.outcome.isEmpty { throw Self.failure(agent, result, reason) }
        }
        return methods
    }

    /// Sends a request that changes no record (a reset, a rediscovery), waits
    /// for the answer and frees the slot; the answer comes back as it is,
    /// `failed` included. A request with the same id already in a slot is
    /// waited for instead of sent again. Errors: agent down (69) or busy (75),
    /// as for every request.
    public func send(_ op: AgentOperation, _ devices: [SBDF], driver: DriverName? = nil, agent: AgentClient,
                     requestID: RequestID? = nil) async throws -> (AgentResult, String) {
        let req = request(newRequestID(requestID), op, devices, driver: driver)
        let k: Int = try transaction { t in try agent.slot(of: req.id, t.tx)?.0 ?? agent.submit(req, t.tx) }
        let answered = try await answer(agent, req.id, slot: k) { _ in }
        try transaction { t in try agent.clear(k, req.id, t.tx) }
        return answered
    }

    /// `assign` for an agent's devices: the same set and rules as on a local
    /// bus; the agent resets them, and any failed reset stops the assignment.
    public func assign(_ targets: [SBDF], to domain: DomID, allowSplit: Bool = false, agent: AgentClient,
                       requestID: RequestID? = nil, dryRun: Bool = false) async throws -> Report {
        guard domain != .dom0 else { throw PCIStoreError.badInput("devices are assigned to guests (domain 1…\(DomID.maxValue)), not dom0") }
        guard !targets.isEmpty else { throw PCIStoreError.badInput("no device given") }
        if !dryRun { _ = try collectAgentResults(agent) }
        let group = try transaction { t in try assignmentSet(targets, allowSplit: allowSplit, t) }
        var report = Report()
        var methods: [SBDF: String] = [:]
        if dryRun {
            report.add(actions: ["agent \(agent.domain): reset \(group.map(\.description).joined(separator: " ")) (the agent reports the methods)"])
        } else {
            methods = try await resetThroughAgent(group, agent, requestID: requestID)
            if let bad = methods.filter({ $0.value == "failed" }).keys.sorted().first {
                throw PCIStoreError(.agentFailed, "\(agent.name) could not reset \(bad); nothing was assigned")
            }
        }
        let stamp = actor.stamp("assign")
        let result: Report = try transaction { t in
            var out = Report()
            let now = try assignmentSet(targets, allowSplit: allowSplit, t)
            guard Set(group) == Set(now) else {
                throw PCIStoreError.refused("the devices changed while resetting them; run the command again")
            }
            for a in now {
                var r = try t.existing(a)
                r.state = .assigned
                r.domain = domain
                if !dryRun { r.lastReset = methods[a] }
                r.splitOverride = allowSplit && r.peers.contains { !now.contains($0) }
                r.changed = stamp
                t.stage(r)
                out.devices.append(r)
            }
            out.add(try t.commit(apply: !dryRun))
            return out
        }
        report.add(result.changes)
        report.devices = result.devices
        return report
    }

    /// `release` for an agent's devices: the same selection as on a local bus
    /// (slot and group peers of the same domain); the agent resets them, and a
    /// failed reset is recorded as `reset=failed` with a warning, as locally.
    public func release(_ targets: [SBDF], agent: AgentClient, requestID: RequestID? = nil,
                        dryRun: Bool = false) async throws -> Report {
        guard !targets.isEmpty else { throw PCIStoreError.badInput("no device given") }
        if !dryRun { _ = try collectAgentResults(agent) }
        let select: (DatabaseTransaction) throws -> [SBDF] = { t in try self.releaseSet(targets, t) }
        let chosen = try transaction { t in try select(t) }
        var report = Report()
        var methods: [SBDF: String] = [:]
        if dryRun {
            report.add(actions: ["agent \(agent.domain): reset \(chosen.map(\.description).joined(separator: " ")) (the agent reports the methods)"])
        } else {
            methods = try await resetThroughAgent(chosen, agent, requestID: requestID)
        }
        for (a, m) in methods.sorted(by: { $0.key < $1.key }) where m == "failed" {
            report.notes.append("warning: \(a) could not be reset by \(agent.name); it is back in the pool unreset (recorded as reset=failed); assign resets it again first")
        }
        let stamp = actor.stamp("release")
        let result: Report = try transaction { t in
            var out = Report()
            for a in try select(t) {
                var r = try t.existing(a)
                r.state = .assignable
                r.domain = nil
                r.splitOverride = false
                if !dryRun { r.lastReset = methods[a] ?? "failed" }
                r.changed = stamp
                t.stage(r)
                out.devices.append(r)
            }
            out.add(try t.commit(apply: !dryRun))
            return out
        }
        report.add(result.changes)
        report.devices = result.devices
        return report
    }

    // MARK: - Results nobody waits for

    /// Applies the finished answers whose submitter is gone (killed while it
    /// waited) and frees their slots; returns what it did. Every command for
    /// an agent calls this first, so records never stay `seizing` or
    /// `returning` once the agent has answered. A request still running, or
    /// whose submitter still waits, is left alone.
    @discardableResult
    public func collectAgentResults(_ agent: AgentClient, dryRun: Bool = false) throws -> [String] {
        try transaction { t in
            var log: [String] = []
            guard try t.tx.readIfPresent(AgentLayout.config(agent.domain)) != nil else { return [] }
            let config = try agent.config(t.tx)
            for k in 0..<config.slots {
                guard let req = try agent.request(t.tx, k), let (res, reason) = try agent.finished(k, req.id, t.tx),
                      !ProcessIdentity.isAlive(pid: req.pid, start: req.start) else { continue }
                let what = "request \(req.id) (\(req.operation.rawValue) \(req.devices.map(\.description).joined(separator: " "))) of pid \(req.pid), which is gone: \(res.state.rawValue)\(reason.isEmpty ? "" : " (\(reason))")"
                if dryRun {
                    log.append("would apply \(what)")
                    continue
                }
                try agent.clear(k, req.id, t.tx)
                _ = try applyAnswer(req, res, name: nil, t)
                log.append("applied \(what)")
            }
            if !dryRun { _ = try t.commit(apply: true) }
            return log
        }
    }

    /// `agent-wait ID`: waits for a request another (maybe killed) command
    /// sent, applies its answer to the records as that command would have
    /// (without the name it may have given), and frees the slot.
    public func awaitRequest(_ id: RequestID, agent: AgentClient) async throws -> (AgentResult, Report) {
        guard let (k, req) = try transaction({ t in try agent.slot(of: id, t.tx) }) else {
            throw PCIStoreError.badInput("no request \(id) is in \(agent.name)'s slots (answered and taken already, or never sent)")
        }
        let (result, reason) = try await answer(agent, id, slot: k) { t in try self.revert(req, t, to: [:]) }
        let (applied, report): ([DeviceRecord], Report) = try transaction { t in
            var out = Report()
            try agent.clear(k, id, t.tx)
            let applied = try applyAnswer(req, result, name: nil, t)
            out.add(try t.commit(apply: true))
            return (applied, out)
        }
        if result.state == .failed { throw Self.failure(agent, result, reason) }
        var done = report
        done.devices = applied
        return (result, done)
    }
}

extension ProcessIdentity {
    static func isAlive(pid: Int32, start: UInt64) -> Bool {
        startTime(of: pid) == start
    }
}

extension XenStorePath {
    /// A child of this path named by text the layout guarantees valid.
    func appending(child: String) -> XenStorePath {
        try! appending(XenStoreNodeName(stringLiteral: child))
    }
}
