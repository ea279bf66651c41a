import Logging
import ServiceLifecycle

/// Runs a long-running command's loop as a service: SIGTERM or SIGINT
/// cancels it, and the process exits once the loop has cleaned up (sockets
/// closed, watches dropped), not in the middle of a write.
enum LongRunning {
    struct Loop: Service {
        let body: @Sendable () async throws -> Void
        func run() async throws { try await cancelWhenGracefulShutdown(body) }
    }

    static func run(_ label: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        var logger = Logger(label: "pcistore.\(label)") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let group = ServiceGroup(services: [Loop(body: body)], gracefulShutdownSignals: [.sigterm, .sigint],
                                 logger: logger)
        try await group.run()
    }
}
