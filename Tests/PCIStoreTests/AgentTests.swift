import Foundation
import Testing
@testable import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// The toolstack and a hardware-domain agent, end to end: on the engine with
/// the agent as unprivileged domain 7, and on the real xenstored with both
/// sides privileged.
@Suite struct AgentTests {
    static let backends: [Backend] = [.engine, .xenstored]

    /// discover → assignable-add → assign → release → assignable-remove -r,
    /// every bus step done by the agent.
    @Test(arguments: backends)
    func theWholeLifeOfADeviceThroughTheAgent(_ backend: Backend) async throws {
        let f = try AgentFixture(backend)
        let agent = f.start(try f.agent())
        let client = f.client()
        let found = try await f.db.importDiscovery(agent: client)
        #expect(found.devices.count == 9)
        let igb = try f.record("03:00.1")
        #expect(igb.state == .present && igb.originalDriver?.rawValue == "igb")
        #expect(igb.topology.groupMembers == [sbdf("03:00.0"), sbdf("03:00.1")] && igb.topology.slotFunctions == [0, 1])
        #expect(try f.record("06:00.0").topology.virtfns == [sbdf("06:10.0"), sbdf("06:10.2")])
        #expect(try f.record("06:10.2").topology.physfn == sbdf("06:00.0"))

        let added = try await f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], name: nil, stub: .pciStub, agent: client)
        #expect(added.devices.map(\.state) == [.assignable, .assignable])
        #expect(f.host.driver(of: "0000:03:00.0") == "pci-stub" && f.host.driver(of: "0000:03:00.1") == "pci-stub")
        let rec = try f.record("03:00.0")
        #expect(rec.originalDriver?.rawValue == "igb" && rec.stub == .pciStub)

        let assigned = try await f.db.assign([sbdf("03:00.0")], to: DomID(5), agent: client)
        #expect(assigned.devices.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1")])
        #expect(try f.record("03:00.1").lastReset == "flr" && f.record("03:00.1").domain == DomID(5))
        #expect(await f.eventually { f.host.log.contains("reset 0000:03:00.1 flr") })

        let released = try await f.db.release([sbdf("03:00.1")], agent: client)
        #expect(released.devices.map(\.state) == [.assignable, .assignable])

        let removed = try await f.db.assignableRemove(sbdf("03:00.0"), agent: client)
        #expect(removed.devices.first?.state == .present && removed.devices.first?.stub == nil)
        #expect(f.host.driver(of: "0000:03:00.0") == "igb")

        let report = try f.db.check(sysfs: nil, repair: false)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(try f.db.agentAreas().areas[AgentFixture.agentDomain]!.slots.allSatisfy { $0.request == nil })
        #expect(f.events.answered.map(\.1.state).allSatisfy { $0 == .done })
        try await agent.stop()
        #expect(try client.heartbeat()?.state == .stopped)
    }

    /// The agent writes values only: it owns no node, cannot create one, and
    /// cannot touch what is not its own to read or write.
    @Test func anUnprivilegedAgentOwnsNothingAndReachesOnlyItsNodes() async throws {
        let f = try AgentFixture(.engine)
        let agent = f.start(try f.agent())
        _ = try await f.db.importDiscovery(agent: f.client())
        _ = try await f.db.assignableAdd([sbdf("05:00.0")], stub: .pciback, agent: f.client())
        try await agent.stop()
        #expect(try f.owned(by: AgentFixture.agentDomain).isEmpty)

        let me = try f.agentConnection()
        let d = AgentFixture.agentDomain
        let device = PCIStoreLayout.node(sbdf("05:00.0"), "state")
        let cases: [(String, () throws -> Void, XenStoreError.Code)] = [
            ("read a device record", { _ = try me.read(device) }, .accessDenied),
            ("list the devices", { _ = try me.directory(PCIStoreLayout.devices) }, .accessDenied),
            ("write a request", { try me.write(AgentLayout.request(d, 0), "none") }, .accessDenied),
            ("write its config", { try me.write(AgentLayout.config(d), "buses=all slots=1 pages=1") }, .accessDenied),
            ("create a node in its area", { try me.write(try AgentLayout.area(d).appending("extra"), "x") }, .accessDenied),
            ("create a result slot", { try me.write(AgentLayout.result(d, 99), "none") }, .accessDenied),
            ("change a permission", { try me.setPermissions(AgentLayout.heartbeat(d), XenStorePermissions(owner: .dom0, others: .read)) }, .accessDenied),
            ("read another agent's area", { _ = try me.read(AgentLayout.config(try DomID(8))) }, .accessDenied),
        ]
        for (what, body, code) in cases {
            do { try body(); Issue.record("the agent could \(what)") } catch let e as XenStoreError { #expect(e.code == code, "\(what): \(e)") }
        }
        // What it may do.
        _ = try me.read(AgentLayout.request(d, 0))
        try me.write(AgentLayout.heartbeat(d), try me.read(AgentLayout.heartbeat(d)))
        #expect(try f.owned(by: d).isEmpty)
    }

    /// A guest gets nothing under /local/pci, not even whether a device
    /// exists: an existing and a missing node both answer EACCES, and a
    /// watch hears nothing.
    @Test func aGuestCannotLearnWhichDevicesExist() async throws {
        let f = try AgentFixture(.engine)
        let agent = f.start(try f.agent())
        _ = try await f.db.importDiscovery(agent: f.client())
        try await agent.stop()
        let guest = f.guestConnection()
        let d = AgentFixture.agentDomain
        let paths: [XenStorePath] = [
            PCIStoreLayout.root, PCIStoreLayout.devices, PCIStoreLayout.node(sbdf("03:00.0"), "state"),
            PCIStoreLayout.node(sbdf("0000:42:00.0"), "state"), PCIStoreLayout.device(sbdf("0000:42:00.0")),
            AgentLayout.agents, AgentLayout.heartbeat(d), AgentLayout.request(d, 0), AgentLayout.page(d, 0), AgentLayout.page(d, 999),
        ]
        for p in paths {
            do { _ = try guest.read(p); Issue.record("guest read \(p)") } catch let e as XenStoreError { #expect(e.code == .accessDenied, "\(p): \(e)") }
            do { _ = try guest.directory(p); Issue.record("guest listed \(p)") } catch let e as XenStoreError { #expect(e.code == .accessDenied, "\(p): \(e)") }
        }
        for p in [AgentLayout.request(d, 0), AgentLayout.result(d, 0), try PCIStoreLayout.root.appending("x")] {
            do { try guest.write(p, "none"); Issue.record("guest wrote \(p)") } catch let e as XenStoreError { #expect(e.code == .accessDenied, "\(p): \(e)") }
        }
        let recorder = WatchRecorder(try guest.watch(PCIStoreLayout.root))
        #expect(await recorder.wait(for: 1).count == 1)
        try f.store.write(PCIStoreLayout.node(sbdf("03:00.0"), "reset"), "none")
        try f.store.write(AgentLayout.request(d, 1), "none")
        try f.store.write(AgentLayout.heartbeat(d), "none")
        #expect(await recorder.settle().count == 1, "\(recorder.paths)")
    }

    /// The agent dies after seizing the first device of two: the toolstack
    /// keeps waiting; a new agent finds the request running and finishes it.
    @Test(arguments: backends)
    func anAgentThatDiesMidRequestFinishesItWhenItStartsAgain(_ backend: Backend) async throws {
        let f = try AgentFixture(backend)
        let first = f.start(try f.agent())
        _ = try await f.db.importDiscovery(agent: f.client())
        try await first.stop()
        // Killed just before the second device's probe.
        let dying = f.start(try f.agent(interruption: { $0.contains("drivers_probe = 0000:03:00.1") }))
        let client = f.client()
        let toolstack = Task { try await f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, agent: client) }
        if case .success = await dying.outcome { Issue.record("the agent was not killed") }
        #expect(f.host.driver(of: "0000:03:00.0") == "pci-stub")
        #expect(try f.record("03:00.0").state == .seizing)
        let area = try f.db.agentAreas().areas[AgentFixture.agentDomain]!
        #expect(area.slots.contains { $0.answer?.state == .running && $0.answer?.outcome == ["igb", "igb"] })

        let second = f.start(try f.agent())
        let r = try await toolstack.value
        #expect(r.devices.map(\.state) == [.assignable, .assignable])
        #expect(f.host.driver(of: "0000:03:00.1") == "pci-stub")
        #expect(try f.record("03:00.1").originalDriver?.rawValue == "igb")
        #expect(f.events.answered.contains { $0.3 && $0.1.state == .done })
        try await second.stop()
        #expect(try f.db.check(sysfs: nil, repair: false).problems.isEmpty)
    }

    /// Dead mid-request, and when it comes back the stub refuses: it rolls
    /// everything back, and the toolstack reports its reason.
    @Test(arguments: backends)
    func anAgentThatCannotFinishRollsBackAndSaysWhy(_ backend: Backend) async throws {
        let f = try AgentFixture(backend)
        let dying = f.start(try f.agent(interruption: { $0.contains("drivers_probe = 0000:03:00.1") }))
        _ = try await f.db.importDiscovery(agent: f.client())
        let before = try f.tree()
        let toolstack = Task { try await f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, agent: f.client()) }
        _ = await dying.outcome
        try f.host.refuse("pci-stub")
        let second = f.start(try f.agent())
        do {
            _ = try await toolstack.value
            Issue.record("seized although the stub refuses")
        } catch let e as PCIStoreError {
            #expect(e.kind == .agentFailed)
            #expect(e.message.contains("agent 7 could not seize: seizing 0000:03:00.1 for pci-stub failed"), "\(e)")
            #expect(e.message.contains("every device is back on its driver"), "\(e)")
        }
        #expect(f.host.driver(of: "0000:03:00.0") == "igb" && f.host.driver(of: "0000:03:00.1") == "igb")
        try await second.stop()
        // Only the heartbeat and discovery differ from before.
        let agentNodes = { (t: [String]) in t.filter { !$0.contains("/heartbeat=") && !$0.contains("/discovery/") } }
        #expect(agentNodes(try f.tree()) == agentNodes(before))
    }

    /// The toolstack dies while it waits; the request survives, the agent
    /// answers it, and another toolstack applies the answer by its id.
    @Test(arguments: backends)
    func aToolstackThatDiesWhileWaitingLeavesTheAnswerToTheNextOne(_ backend: Backend) async throws {
        let f = try AgentFixture(backend)
        let first = f.start(try f.agent())
        _ = try await f.db.importDiscovery(agent: f.client())
        try await first.stop()
        let id = try RequestID("killed-toolstack")
        let waiting = Task { try await f.db.assignableAdd([sbdf("05:00.0")], stub: .pciback, agent: f.client(), requestID: id) }
        #expect(try await f.eventually { try f.slot(of: id) != nil })
        waiting.cancel()
        _ = await waiting.result
        #expect(try f.record("05:00.0").state == .seizing)

        let agent = f.start(try f.agent())
        let other = PCIDatabase(store: try f.toolstackConnection())
        let (result, report) = try await other.awaitRequest(id, agent: f.client(store: other.store))
        #expect(result.state == .done && result.outcome == ["e1000"])
        #expect(report.devices.map(\.state) == [.assignable])
        #expect(try f.record("05:00.0").originalDriver?.rawValue == "e1000" && f.record("05:00.0").stub == .pciback)
        #expect(f.host.driver(of: "0000:05:00.0") == "pciback")
        #expect(try f.slot(of: id) == nil)
        try await agent.stop()
    }

    /// No agent runs: the toolstack says so within its down-after, withdraws
    /// the request and changes nothing. A stopped agent is down at once.
    @Test(arguments: backends)
    func anAgentThatIsDownIsAClearErrorAndNothingChanges(_ backend: Backend) async throws {
        let f = try AgentFixture(backend)
        let agent = f.start(try f.agent())
        _ = try await f.db.importDiscovery(agent: f.client())
        try await agent.stop()
        let before = try f.tree()
        do {
            _ = try await f.db.assignableAdd([sbdf("05:00.0")], stub: .pciback, agent: f.client())
            Issue.record("a stopped agent answered")
        } catch let e as PCIStoreError {
            #expect(e.kind == .agentDown)
            #expect(e.message.contains("agent 7 stopped"), "\(e)")
            #expect(e.message.contains("was withdrawn, nothing was done"), "\(e)")
        }
        #expect(try f.tree() == before)

        // A heartbeat that stands still (an agent killed, or its domain hung).
        try f.store.write(AgentLayout.heartbeat(AgentFixture.agentDomain), "seq=99 pid=1 interval=200 at=1 state=up")
        let stale = try f.tree()
        do {
            _ = try await f.db.assignableAdd([sbdf("05:00.0")], stub: .pciback, agent: f.client(downAfter: .milliseconds(500)))
            Issue.record("seized without an agent")
        } catch let e as PCIStoreError {
            #expect(e.kind == .agentDown)
            #expect(e.message.contains("is down: its heartbeat (seq=99 pid=1 interval=200 at=1 state=up) stood still for 0.5 s"), "\(e)")
            #expect(e.message.contains("was withdrawn, nothing was done"), "\(e)")
        }
        #expect(try f.tree() == stale)
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
    }

    /// A request is idempotent by id: an agent restarted after answering
    /// does not do it again, and the same id sent twice is one request.
    @Test func aRequestIsDoneOnceWhateverRestarts() async throws {
        let f = try AgentFixture(.engine)
        let d = AgentFixture.agentDomain
        let req = AgentRequest(id: try RequestID("once"), operation: .reset, devices: [sbdf("03:00.0")], pid: 1, start: 1, at: 1)
        try f.store.write(AgentLayout.request(d, 3), req.encoded)
        let agent = f.start(try f.agent())
        #expect(await f.events.wait { $0.answered.count == 1 }, "\(f.events.all)")
        try await agent.stop()
        let again = f.start(try f.agent())
        #expect(await f.events.wait { $0.starts == 2 })
        try await again.stop()
        #expect(f.events.answered.count == 1)
        #expect(await f.eventually { !f.host.log.isEmpty })
        #expect(f.host.log.filter { $0 == "reset 0000:03:00.0 flr" }.count == 1)
        let answer = try AgentResult.decode(try f.store.readString(AgentLayout.result(d, 3)), at: "")
        #expect(answer?.state == .done && answer?.outcome == ["flr"])
    }

    /// A request the agent cannot do is refused before anything moves,
    /// with the reason the toolstack prints.
    @Test(arguments: backends)
    func refusalsComeBackWithTheAgentsReason(_ backend: Backend) async throws {
        let f = try AgentFixture(backend, config: AgentConfig(claim: .buses([PCIBusAddress(bus: 3), PCIBusAddress(bus: 5)])))
        let agent = f.start(try f.agent())
        let found = try await f.db.importDiscovery(agent: f.client())
        #expect(found.devices.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1"), sbdf("05:00.0")])
        try f.host.unload("vfio-pci")
        do {
            _ = try await f.db.assignableAdd([sbdf("05:00.0")], stub: .vfioPCI, agent: f.client())
            Issue.record("seized with an unloaded stub")
        } catch let e as PCIStoreError {
            #expect(e.kind == .agentFailed)
            #expect(e.message == "agent 7 could not seize: stub driver vfio-pci is not loaded (try: modprobe vfio-pci)")
        }
        #expect(try f.record("05:00.0").state == .present)
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
        // Too many devices for one request: bad input, nothing sent.
        let many = (0..<25).map { try! SBDF(bus: 3, device: UInt8($0), function: 0) }
        await #expect(throws: PCIStoreError.self) { try await f.db.assignableAdd(many, stub: .pciStub, agent: f.client()) }
        try await agent.stop()
    }

    /// Registration: claims may not overlap, a domain must exist, and
    /// re-registering keeps a request in flight.
    @Test func registrationRules() async throws {
        let f = try AgentFixture(.engine, config: AgentConfig(claim: .buses([PCIBusAddress(bus: 3)])))
        let eight = try DomID(8)
        #expect(throws: PCIStoreError.self) { try f.db.registerAgent(eight, config: AgentConfig()) }
        try f.store.introduceDomain(eight)
        do {
            _ = try f.db.registerAgent(eight, config: AgentConfig(claim: .buses([PCIBusAddress(bus: 3), PCIBusAddress(bus: 4)])))
            Issue.record("overlapping claims")
        } catch let e as PCIStoreError { #expect(e.message.contains("agent 7 already claims buses 0000-03")) }
        _ = try f.db.registerAgent(eight, config: AgentConfig(claim: .buses([PCIBusAddress(bus: 4)]), slots: 2, pages: 2))
        #expect(try f.db.agentOwning([sbdf("04:00.0"), sbdf("04:00.1")]) == eight)
        #expect(try f.db.agentOwning([sbdf("00:02.0")]) == nil)
        #expect(throws: PCIStoreError.self) { try f.db.agentOwning([sbdf("03:00.0"), sbdf("04:00.0")]) }
        let req = AgentRequest(id: try RequestID("kept"), operation: .reset, devices: [sbdf("04:00.0")], pid: 1, start: 1, at: 1)
        try f.store.write(AgentLayout.request(eight, 1), req.encoded)
        #expect(throws: PCIStoreError.self) { try f.db.registerAgent(eight, config: AgentConfig(claim: .buses([PCIBusAddress(bus: 4)]), slots: 3, pages: 2)) }
        let again = try f.db.registerAgent(eight, config: AgentConfig(claim: .buses([PCIBusAddress(bus: 4)]), slots: 2, pages: 2))
        #expect(again.changes.isEmpty && again.actions.isEmpty)
        #expect(try f.store.readString(AgentLayout.request(eight, 1)) == req.encoded)
        #expect(throws: PCIStoreError.self) { try f.db.unregisterAgent(eight) }
        _ = try f.db.unregisterAgent(eight, force: true)
        #expect(try f.db.agents().keys.sorted() == [AgentFixture.agentDomain])
    }

    /// The agent's connection drops: it reconnects, starts a new session
    /// (heartbeat going on from where it was), and serves requests again.
    @Test func anAgentReconnectsWhenItsConnectionDrops() async throws {
        let f = try AgentFixture(.engine)
        let first = try f.agentConnection()
        let agent = HardwareAgent(domain: AgentFixture.agentDomain, store: first, sysfs: f.host.sysfs(),
                                  options: .init(heartbeat: .milliseconds(200)), reconnect: { [f] in try f.agentConnection() },
                                  onEvent: f.events.add)
        let running = f.start(agent)
        _ = try await f.db.importDiscovery(agent: f.client())
        let seq = try f.client().heartbeat()?.seq ?? 0
        first.close()
        #expect(await f.events.wait { $0.starts == 2 })
        #expect(f.events.all.contains { if case .disconnected = $0 { true } else { false } })
        let added = try await f.db.assignableAdd([sbdf("05:00.0")], stub: .pciback, agent: f.client())
        #expect(added.devices.map(\.state) == [.assignable])
        #expect(try (f.client().heartbeat()?.seq ?? 0) > seq)
        try await running.stop()
    }

    /// An agent with no registration it may read says so at start: an
    /// unregistered guest domain is denied (the CLI's exit 77), dom0 is
    /// told to register.
    @Test func anAgentWithoutARegistrationSaysSoAtStart() async throws {
        let f = try AgentFixture(.engine)
        let eight = try DomID(8)
        try f.store.introduceDomain(eight)
        let unregistered = HardwareAgent(domain: eight, store: f.engine!.connect(as: eight), sysfs: f.host.sysfs())
        do { try await unregistered.run(); Issue.record("ran without a registration") } catch let e as PCIStoreError {
            #expect(e.store?.code == .accessDenied, "\(e)")
            #expect(e.message.contains("agent-register --domain 8"), "\(e)")
        }
        let dom0 = HardwareAgent(domain: .dom0, store: f.engine!.connect(), sysfs: f.host.sysfs())
        do { try await dom0.run(); Issue.record("ran without a registration") } catch let e as PCIStoreError {
            #expect(e.kind == .refused && e.message.contains("agent-register --domain 0"), "\(e)")
        }
    }

    /// `check` finds permissions that drifted (a guest granted read, an
    /// agent granted write where it only reads, a node another domain owns)
    /// and `--repair` puts them back.
    @Test(arguments: backends)
    func checkCatchesPermissionDriftAndRepairsIt(_ backend: Backend) async throws {
        let f = try AgentFixture(backend)
        let agent = f.start(try f.agent())
        _ = try await f.db.importDiscovery(agent: f.client())
        try await agent.stop()
        #expect(try f.db.check(sysfs: nil, repair: false).problems.isEmpty)
        let d = AgentFixture.agentDomain
        let device = PCIStoreLayout.node(sbdf("03:00.0"), "identity")
        try f.store.setPermissions(device, XenStorePermissions(owner: .dom0, others: .none, entries: [.init(AgentFixture.guestDomain, .read)]))
        try f.store.setPermissions(AgentLayout.request(d, 2), XenStorePermissions(owner: .dom0, others: .none, entries: [.init(d, .both)]))
        try f.store.setPermissions(AgentLayout.result(d, 0), XenStorePermissions(owner: .dom0, others: .none, entries: [.init(d, .read)]))
        try f.store.setPermissions(PCIStoreLayout.names, XenStorePermissions(owner: d, others: .none))
        let found = try f.db.check(sysfs: nil, repair: false).problems
        #expect(found.map(\.path).sorted() == [AgentLayout.request(d, 2), AgentLayout.result(d, 0), PCIStoreLayout.names, device].map(\.rawValue).sorted())
        #expect(found.contains { $0.path == device.rawValue && $0.problem == "permissions n0 r9, expected n0 (domain 9 is granted read it should not have)" })
        #expect(found.contains { $0.path == PCIStoreLayout.names.rawValue && $0.problem.contains("owned by domain 7") })
        let dry = try f.db.check(sysfs: nil, repair: true, dryRun: true)
        #expect(dry.problems.count == 4 && dry.repaired.filter { $0.hasPrefix("would set permissions") }.count == 4)
        let repaired = try f.db.check(sysfs: nil, repair: true)
        #expect(repaired.problems.isEmpty, "\(repaired.problems)")
        #expect(repaired.repaired.count == 4)
        #expect(try f.store.permissions(device) == PCIStoreLayout.rootPermissions)
        #expect(try f.store.permissions(AgentLayout.result(d, 0)).description == "n0 b7")
    }
}

/// The agent inside cxenstored's quotas: a bus of 300 functions published
/// by an unprivileged agent, a discovery too big for its pages, a store
/// whose node quota is smaller than the agent's pages.
@Suite struct AgentQuotaTests {
    /// 300 functions with six BARs each, IOMMU groups of two.
    static func bigHost() throws -> FakeSysfs {
        var devices: [FakeSysfs.Device] = []
        for i in 0..<300 {
            let a = try SBDF(bus: UInt8(0x10 + i / 64), device: UInt8(i % 64 / 2), function: UInt8(i % 2))
            let bars = (0..<6).map { PCIBar(index: UInt8($0), kind: .mem64p, start: 0x40_0000_0000 + UInt64(i) << 24 + UInt64($0) << 20, size: 0x10_0000) }
            devices.append(FakeSysfs.Device(a.description, vendor: 0x8086, device: 0x10c9, driver: "igb", group: UInt32(100 + i / 2), bars: bars))
        }
        return try FakeSysfs(devices: devices, drivers: [FakeSysfs.Driver("igb", ids: ["8086:10c9"]), FakeSysfs.Driver("pci-stub")])
    }

    @Test func threeHundredDevicesFitAnUnprivilegedAgentsArea() async throws {
        let f = try AgentFixture(.engine, host: try Self.bigHost(), startKernel: false)
        let agent = f.start(try f.agent())
        let found = try await f.db.importDiscovery(agent: f.client())
        #expect(found.devices.count == 300)
        #expect(try f.record("0000:14:15.1").topology.groupMembers == [sbdf("0000:14:15.0"), sbdf("0000:14:15.1")])
        #expect(try f.record("0000:10:00.0").resources.bars.count == 6)
        let index = try f.client().published()
        #expect(index?.devices == 300)
        #expect((index?.pages ?? 999) <= AgentLayout.defaultPages)
        #expect(try f.owned(by: AgentFixture.agentDomain).isEmpty)
        #expect(f.events.problems.isEmpty, "\(f.events.problems)")
        try await agent.stop()
    }

    @Test func aDiscoveryBiggerThanItsPagesIsRefusedAndSaysHowManyItNeeds() async throws {
        let f = try AgentFixture(.engine, config: AgentConfig(pages: 1))
        let agent = f.start(try f.agent(pageBytes: 700))
        let needed = DiscoveryEntry.pages(try HardwareAgent(domain: AgentFixture.agentDomain, store: f.store, sysfs: f.host.sysfs())
            .discoveredEntries(AgentConfig()), pageBytes: 700).count
        #expect(needed > 1)
        do {
            _ = try await f.db.importDiscovery(agent: f.client())
            Issue.record("published 9 devices in one page")
        } catch let e as PCIStoreError {
            #expect(e.kind == .agentFailed)
            #expect(e.message.contains("discovery of 9 devices needs \(needed) pages of up to 700 bytes, and agent 7 is registered with 1 (pcistore agent-register --domain 7 --pages \(needed))"), "\(e)")
        }
        #expect(try f.client().published() == nil)
        _ = try f.db.registerAgent(AgentFixture.agentDomain, config: AgentConfig(pages: needed))
        #expect(try await f.db.importDiscovery(agent: f.client()).devices.count == 9)
        try await agent.stop()
    }

    @Test func aStoreWithASmallerNodeQuotaRefusesAPageAndTheAgentSaysSo() async throws {
        let f = try AgentFixture(.engine, quotas: XenStoreQuotas(entrySize: 800))
        let agent = f.start(try f.agent())
        do {
            _ = try await f.db.importDiscovery(agent: f.client())
            Issue.record("a 2000-byte page passed an 800-byte quota")
        } catch let e as PCIStoreError {
            #expect(e.kind == .agentFailed)
            #expect(e.message.contains("ENOSPC") && e.message.contains("--page-bytes"), "\(e)")
        }
        try await agent.stop()
        let smaller = f.start(try f.agent(pageBytes: 700))
        #expect(try await f.db.importDiscovery(agent: f.client()).devices.count == 9)
        try await smaller.stop()
    }
}
