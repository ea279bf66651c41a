import ArgumentParser
import Foundation
import PCIStore
import PCIStoreSchema
import XenStore

struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the toolstack's requests for this domain's PCI bus (run in the domain that owns the bus).",
        discussion: """
            Publishes the bus (discovery) under /local/pci/agents/DOMAIN, executes the seize, rebind, reset \\
            and rediscover requests the toolstack writes there, answers each, and writes a heartbeat. dom0 \\
            must have run `pcistore agent-register --domain DOMAIN` first. A request it was executing when \\
            it died is finished or rolled back when it starts again. One line per answered request and per \\
            publication on stdout; problems on stderr. Ends with exit 0 on SIGTERM or SIGINT, after the \\
            request under way, with a last heartbeat saying it stopped. \\
            contrib/systemd/pcistore-agent.service runs it under systemd.

            Example: pcistore agent --domain 1 --store xenstore
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @Option(help: ArgumentHelp("The domain this agent serves as (default: $PCISTORE_AGENT_DOMAIN, else 0).", valueName: "domid"),
            transform: Parse.domain)
    var domain: DomID?
    @Option(help: ArgumentHelp("Seconds between heartbeats.", valueName: "seconds")) var heartbeat: Double = 2
    @Option(help: ArgumentHelp("Seconds between readings of the bus (published when it changed).", valueName: "seconds"))
    var refresh: Double = 30
    @Option(help: ArgumentHelp("Longest value written (a discovery page); lower it when the store's node quota is smaller than cxenstored's 2048 bytes.",
                               valueName: "bytes"))
    var pageBytes: Int = AgentLayout.pageBytes

    func validate() throws {
        if !(heartbeat >= 0.01 && heartbeat <= 3600) { throw ValidationError("--heartbeat is 0.01…3600 seconds") }
        if !(refresh >= 0.1 && refresh <= 86_400) { throw ValidationError("--refresh is 0.1…86400 seconds") }
        if !(DiscoveryEntry.maxEncodedLength...AgentLayout.pageBytes).contains(pageBytes) {
            throw ValidationError("--page-bytes is \(DiscoveryEntry.maxEncodedLength)…\(AgentLayout.pageBytes)")
        }
        if let env = Environment.current["PCISTORE_AGENT_DOMAIN"], domain == nil, (try? DomID(env)) == nil {
            throw ValidationError("PCISTORE_AGENT_DOMAIN='\(env)' is not a domain id")
        }
    }

    func run() async throws {
        let global = self.global
        let d = try domain ?? Environment.current["PCISTORE_AGENT_DOMAIN"].map { try DomID($0) } ?? .dom0
        // Quarantine (xc_assign_device to DomIO) takes the control domain; an
        // agent in a driver domain only moves drivers.
        let bus = d == .dom0 ? sysfs.value : Sysfs(root: sysfs.sysfs ?? Environment.current["PCISTORE_SYSFS"] ?? "/sys")
        let agent: HardwareAgent
        do {
            agent = HardwareAgent(domain: d, store: try global.open(), sysfs: bus,
                                  options: .init(heartbeat: .milliseconds(Int64(heartbeat * 1000)),
                                                 refresh: .milliseconds(Int64(refresh * 1000)), pageBytes: pageBytes),
                                  reconnect: { try global.open() }, onEvent: Self.say)
        } catch {
            throw Output.reported(error)
        }
        do {
            try await LongRunning.run("agent") { try await agent.run() }
        } catch {
            throw Output.reported(error)
        }
    }

    /// One line per event, unbuffered, so the journal sees each as it happens.
    static func say(_ event: HardwareAgent.Event) {
        func out(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
        switch event {
        case .started(let c):
            out("serving buses \(c.claim.encoded) (\(c.slots) request slots, \(c.pages) discovery pages)")
        case .answered(let req, let res, let reason, let recovered):
            let devices = req.devices.isEmpty ? "" : " " + req.devices.map(\.description).joined(separator: " ")
            let outcome = res.outcome.isEmpty ? "" : " (\(res.outcome.joined(separator: ",")))"
            out("\(recovered ? "recovered" : "answered") \(req.id) \(req.operation.rawValue)\(devices): \(res.state.rawValue)\(outcome)\(reason.isEmpty ? "" : ": \(reason)")")
        case .published(let i):
            out("published generation \(i.generation): \(i.devices) devices in \(i.pages) pages")
        case .problem(let p):
            Output.note(p)
        case .disconnected(let e):
            Output.note("lost the store (\(e.message)); reconnecting")
        }
    }
}

struct AgentRegister: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-register",
        abstract: "Create the area through which a domain's agent serves its PCI buses (run in dom0).",
        discussion: """
            Creates /local/pci/agents/DOMAIN with every node the agent reads or writes: owned by dom0, so none \\
            counts against the agent's quota or goes with it, and granted to DOMAIN exactly where it must read \\
            or write. Devices on the buses it claims (all, or --bus …) are then acted on through the agent. \\
            Running it again brings the permissions back and keeps requests in flight.

            Example: pcistore agent-register --domain 1 --bus 0000:03 --bus 0000:04
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dry: DryRun
    @Option(help: ArgumentHelp("The agent's domain (0 when dom0 runs it).", valueName: "domid"), transform: Parse.domain)
    var domain: DomID
    @Option(name: .customLong("bus"), help: ArgumentHelp("A bus the agent serves (0000:03); repeat for more. Default: every bus it sees.",
                                                        valueName: "bus"), transform: Parse.bus)
    var buses: [PCIBusAddress] = []
    @Option(help: "Request slots (requests in flight at once).") var slots: Int = AgentLayout.defaultSlots
    @Option(help: "Discovery pages (the default holds 256 devices at the least).") var pages: Int = AgentLayout.defaultPages

    func validate() throws {
        if let p = AgentConfig(claim: .all, slots: slots, pages: pages).problem { throw ValidationError(p) }
    }

    func run() throws {
        try Output.guarded {
            let config = AgentConfig(claim: buses.isEmpty ? .all : .buses(Set(buses)), slots: slots, pages: pages)
            Output.report(try global.database().registerAgent(domain, config: config, dryRun: dry.dryRun), dryRun: dry.dryRun)
            if !dry.dryRun { print("agent \(domain): \(config.encoded)") }
        }
    }
}

struct AgentUnregister: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-unregister",
        abstract: "Remove a domain's agent area; its devices are acted on directly again.",
        discussion: "Refused while a request is in flight, unless --force.\n\nExample: pcistore agent-unregister --domain 1")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dry: DryRun
    @Option(help: ArgumentHelp("The agent's domain.", valueName: "domid"), transform: Parse.domain) var domain: DomID
    @Flag(help: "Remove it even with requests in flight (their results are lost).") var force = false

    func run() throws {
        try Output.guarded {
            Output.report(try global.database().unregisterAgent(domain, force: force, dryRun: dry.dryRun), dryRun: dry.dryRun)
        }
    }
}

struct AgentList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-list",
        abstract: "List the registered agents: buses, heartbeat, requests in flight, discovery.",
        discussion: "Example: pcistore agent-list --json")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "One JSON document.") var json = false

    struct Row: Encodable {
        struct Request: Encodable {
            let slot: Int
            let id: String
            let op: String
            let devices: [String]
            let state: String
            let reason: String
        }
        let domain: UInt16
        let buses: String
        let slots: Int
        let pages: Int
        let heartbeat: String
        let published: String
        let requests: [Request]
    }

    func run() throws {
        try Output.guarded {
            let reading = try global.database().agentAreas()
            let rows = reading.areas.keys.sorted().map { d in
                let a = reading.areas[d]!
                return Row(domain: d.rawValue, buses: a.config.claim.encoded, slots: a.config.slots, pages: a.config.pages,
                           heartbeat: a.heartbeat?.encoded ?? "none", published: a.index?.encoded ?? "none",
                           requests: a.slots.enumerated().compactMap { k, s in
                               s.request.map { r in
                                   Row.Request(slot: k, id: r.id.rawValue, op: r.operation.rawValue, devices: r.devices.map(\.description),
                                               state: s.answer?.state.rawValue ?? "new", reason: s.reason)
                               }
                           })
            }
            if json {
                print(DatabaseJSON.encodeValue(rows))
            } else {
                for r in rows {
                    print("agent \(r.domain): buses \(r.buses), \(r.requests.count)/\(r.slots) slots in use, \(r.pages) pages")
                    print("  heartbeat: \(r.heartbeat)")
                    print("  published: \(r.published)")
                    for q in r.requests {
                        print("  slot \(q.slot): \(q.id) \(q.op) \(q.devices.joined(separator: " ")) \(q.state)\(q.reason.isEmpty ? "" : ": \(q.reason)")")
                    }
                }
            }
            Output.violations(reading.violations)
        }
    }
}

struct AgentWait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-wait",
        abstract: "Wait for a request sent to an agent (by a command that died, say) and apply its answer.",
        discussion: """
            Exits 0 when the agent did it, 1 with the agent's reason when it failed, 69 when the agent is \\
            down, 75 when the wait timed out.

            Example: pcistore agent-wait --domain 1 r67a1c2-4242-9f3
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("The agent's domain (default: the one holding the request).", valueName: "domid"),
            transform: Parse.domain)
    var domain: DomID?
    @OptionGroup var wait: AgentWaitOptions
    @Argument(help: "The request id.", transform: Parse.requestID) var id: RequestID

    func run() async throws {
        try await Output.guarded {
            let db = try global.database()
            var holder = domain
            if holder == nil {
                for a in try db.agentAreas().areas.values where a.slots.contains(where: { $0.request?.id == id }) { holder = a.domain }
            }
            guard let d = holder else { throw PCIStoreError(.badInput, "no agent holds a request \(id)") }
            let (result, report) = try await db.awaitRequest(id, agent: wait.client(db, d))
            Output.report(report, dryRun: false)
            print("\(id) \(result.operation.rawValue): \(result.state.rawValue)\(result.outcome.isEmpty ? "" : " (\(result.outcome.joined(separator: ",")))")")
        }
    }
}
