import ArgumentParser
import PCIStore
import PCIStoreSchema
import XenStore

/// How the commands that may send a request to an agent wait for it.
struct AgentWaitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("When the devices belong to an agent: seconds to wait for its answer.", valueName: "seconds"))
    var timeout: Double = 60
    @Option(help: ArgumentHelp("Seconds the agent's heartbeat may stand still before it counts as down (default: three heartbeats, at least 5).",
                               valueName: "seconds"))
    var downAfter: Double?
    @Option(help: ArgumentHelp("Id of the request sent to the agent (default: a new one); the same id again waits for that request instead of sending another.",
                               valueName: "id"), transform: Parse.requestID)
    var requestId: RequestID?

    func validate() throws {
        if !(timeout > 0 && timeout <= 86_400) { throw ValidationError("--timeout is 0…86400 seconds") }
        if let downAfter, !(downAfter > 0 && downAfter <= 86_400) { throw ValidationError("--down-after is 0…86400 seconds") }
    }

    func client(_ db: PCIDatabase, _ d: DomID) -> AgentClient {
        AgentClient(store: db.store, domain: d, timeout: .milliseconds(Int64(timeout * 1000)),
                    downAfter: downAfter.map { .milliseconds(Int64($0 * 1000)) })
    }
}

extension Parse {
    static func requestID(_ text: String) throws -> RequestID {
        do { return try RequestID(text) } catch { throw ValidationError(error.description) }
    }
    /// Any domain id, dom0 included (an agent may run there).
    static func domain(_ text: String) throws -> DomID {
        do { return try DomID(text) } catch { throw ValidationError("'\(text)' is not a domain id (0…\(DomID.maxValue))") }
    }
    static func bus(_ text: String) throws -> PCIBusAddress {
        do { return try PCIBusAddress(text) } catch { throw ValidationError(error.description) }
    }
}

extension Output {
    /// `guarded` for commands that wait on an agent.
    static func guarded(_ body: () async throws -> Void) async throws {
        do { try await body() } catch { throw reported(error) }
    }

    /// The stub to seize with: the one asked for, else the first of
    /// pciback, vfio-pci and pci-stub that is loaded where the bus is.
    static func stub(_ asked: DriverName?, loaded: (DriverName) -> Bool) -> DriverName {
        asked ?? [DriverName.pciback, .vfioPCI, .pciStub].first(where: loaded) ?? .pciStub
    }
}
