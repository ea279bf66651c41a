import PCIStoreSchema
import XenStore

extension HardwareAgent {
    /// What looking at a slot decided.
    private enum Step {
        case nothing
        /// Execute, with the journal (`outcome` so far) to roll back to.
        case execute(AgentRequest, journal: [String], recovered: Bool)
        /// Answered without touching the bus (the request was refused).
        case answered(AgentRequest, AgentResult, String)
    }

    /// Handles slot `k`: a new request is journalled (`running`, with what it
    /// needs to roll back) in one transaction, executed on the bus, and
    /// answered in another; a request found `running` (this agent died in
    /// it) is executed again from its journal, which finishes it or rolls it
    /// back. A request already answered is left alone: requests are
    /// idempotent by id.
    func handle(_ store: any XenStoreConnection, _ config: AgentConfig, _ k: Int) throws {
        let step: Step = try transaction(store) { tx in
            let reqPath = AgentLayout.request(domain, k), resPath = AgentLayout.result(domain, k)
            let req: AgentRequest?
            do { req = try AgentRequest.decode(try tx.readString(reqPath), at: reqPath.rawValue) } catch let e as SchemaViolation {
                onEvent(.problem("ignoring a request that does not follow the schema: \(e)"))
                return .nothing
            }
            guard let req else { return .nothing }
            let res = try? AgentResult.decode(try tx.readString(resPath), at: resPath.rawValue)
            if let res, res.id == req.id {
                return res.state.isFinished ? .nothing : .execute(req, journal: res.outcome, recovered: true)
            }
            if let why = refusal(req, config) {
                let r = AgentResult(id: req.id, operation: req.operation, state: .failed, at: now())
                try answer(tx, k, r, why)
                return .answered(req, r, why)
            }
            let journal = req.devices.map { sysfs.driver(of: $0)?.rawValue ?? "none" }
            let running = AgentResult(id: req.id, operation: req.operation, state: .running, at: now(),
                                      outcome: req.operation == .seize || req.operation == .rebind ? journal : [])
            try tx.write(resPath, running.encoded)
            return .execute(req, journal: running.outcome, recovered: false)
        }
        switch step {
        case .nothing:
            return
        case .answered(let req, let r, let why):
            onEvent(.answered(req, r, reason: why, recovered: false))
        case .execute(let req, let journal, let recovered):
            let (result, reason) = try execute(req, journal: journal, store, config)
            let written: Bool = try transaction(store) { tx in
                // Still ours? dom0 may have cleared the slot by force meanwhile.
                let p = AgentLayout.request(domain, k)
                guard (try? AgentRequest.decode(try tx.readString(p), at: p.rawValue))?.id == req.id else { return false }
                try answer(tx, k, result, reason)
                return true
            }
            if written { onEvent(.answered(req, result, reason: reason, recovered: recovered)) }
        }
    }

    private func answer(_ tx: XenStoreTransaction, _ k: Int, _ r: AgentResult, _ reason: String) throws {
        var text = String(reason.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7f ? Character($0) : "?" })
        if text.utf8.count > AgentLayout.maxReasonBytes { text = String(text.utf8.prefix(AgentLayout.maxReasonBytes - 3))! + "..." }
        try tx.write(AgentLayout.result(domain, k), r.encoded)
        try tx.write(AgentLayout.reason(domain, k), text)
    }

    /// Why the request cannot be done here at all, before anything moves.
    func refusal(_ req: AgentRequest, _ config: AgentConfig) -> String? {
        for a in req.devices {
            if !config.claim.covers(a) { return "\(a) is not on the buses agent \(domain) serves (\(config.claim.encoded))" }
            if !sysfs.exists(a) { return "\(a) is not on the PCI bus (\(sysfs.devicesDirectory))" }
        }
        switch req.operation {
        case .seize:
            if let stub = req.driver, !sysfs.isLoaded(stub) {
                return "stub driver \(stub) is not loaded (try: modprobe \(stub == .pciback ? "xen-pciback" : stub.rawValue))"
            }
        case .rebind:
            if let d = req.driver, !sysfs.isLoaded(d) { return "driver \(d) is not loaded" }
        case .reset, .rediscover:
            break
        }
        return nil
    }

    /// The bus work of one request; the result and the reason for a failure.
    /// `journal` holds each device's driver from before the request.
    func execute(_ req: AgentRequest, journal: [String], _ store: any XenStoreConnection,
                 _ config: AgentConfig) throws -> (AgentResult, String) {
        func result(_ state: AgentRequestState, _ outcome: [String]) -> AgentResult {
            AgentResult(id: req.id, operation: req.operation, state: state, at: now(), outcome: outcome)
        }
        let before = req.devices.indices.map { i in i < journal.count ? AgentResult.driver(journal[i]) : nil }
        // An agent in a Xen control domain quarantines as xl does (and as
        // pcistore does on its own bus); in a driver domain there is no Xen handle.
        let xen = sysfs.hypervisor != nil
        switch req.operation {
        case .seize:
            guard let stub = req.driver else { return (result(.failed, []), "seize needs a stub driver") }
            var done: [Int] = []
            for (i, a) in req.devices.enumerated() {
                do {
                    for s in BusStep.seize(a, current: sysfs.driver(of: a), stub: stub, xen: xen) { try perform(s) }
                    done.append(i)
                } catch let e as SysfsError {
                    var failed: [SBDF] = []
                    for j in (done + [i]).reversed() {
                        let b = req.devices[j]
                        do { for s in BusStep.giveBack(b, current: sysfs.driver(of: b), original: before[j], xen: xen) { try s.perform(sysfs) } }
                        catch { failed.append(b) }
                    }
                    let undo = failed.isEmpty ? "every device is back on its driver" : "could not give back \(failed.map(\.description).joined(separator: ", "))"
                    return (result(.failed, journal), "seizing \(a) for \(stub) failed: \(e); \(undo)")
                }
            }
            return (result(.done, journal), "")
        case .rebind:
            var done: [Int] = []
            for (i, a) in req.devices.enumerated() {
                do {
                    for s in BusStep.giveBack(a, current: sysfs.driver(of: a), original: req.driver, xen: xen) { try perform(s) }
                    done.append(i)
                } catch let e as SysfsError {
                    var failed: [SBDF] = []
                    for j in (done + [i]).reversed() {
                        let b = req.devices[j]
                        guard let stub = before[j] else { continue }
                        do { for s in BusStep.seize(b, current: sysfs.driver(of: b), stub: stub, xen: xen) { try s.perform(sysfs) } }
                        catch { failed.append(b) }
                    }
                    let undo = failed.isEmpty ? "it is held by its stub again" : "could not put back \(failed.map(\.description).joined(separator: ", "))"
                    return (result(.failed, journal), "giving \(a) to \(req.driver.map(\.rawValue) ?? "no driver") failed: \(e); \(undo)")
                }
            }
            return (result(.done, req.devices.map { sysfs.driver(of: $0)?.rawValue ?? "none" }), "")
        case .reset:
            var methods: [String] = []
            var failures: [String] = []
            for a in req.devices {
                try interrupt(BusStep.reset(a).description)
                do { methods.append(try sysfs.reset(a)) } catch {
                    methods.append("failed")
                    failures.append("\(a): \(error)")
                }
            }
            return failures.isEmpty ? (result(.done, methods), "") : (result(.failed, methods), "reset failed for " + failures.joined(separator: "; "))
        case .rediscover:
            do {
                try publish(store, config)
                return (result(.done, []), "")
            } catch let e as PCIStoreError where e.store?.code != .unreachable {
                return (result(.failed, []), e.message)
            }
        }
    }

    private func perform(_ s: BusStep) throws {
        try interrupt(s.description)
        try s.perform(sysfs)
    }

    private func interrupt(_ step: String) throws {
        if interruption?(step) == true { throw Killed() }
    }

    /// A transaction on the agent's connection, store errors as `PCIStoreError`.
    func transaction<T>(_ store: any XenStoreConnection, _ body: (XenStoreTransaction) throws -> T) throws -> T {
        do { return try store.transaction(body) } catch let e as XenStoreError { throw PCIStoreError(e) }
    }
}
