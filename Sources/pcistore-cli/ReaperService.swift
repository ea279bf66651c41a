import PCIStore
import ServiceLifecycle

/// The dead-domain reaper as a service of a `ServiceGroup`: a graceful
/// shutdown (SIGTERM, SIGINT) cancels it, and it ends once the
/// reconciliation under way, if any, has finished. The library knows
/// nothing of ServiceLifecycle; this is the only place they meet.
struct ReaperService: Service {
    let reaper: DeadDomainReaper

    func run() async throws {
        let reaper = self.reaper
        try await cancelWhenGracefulShutdown { try await reaper.run() }
    }
}
