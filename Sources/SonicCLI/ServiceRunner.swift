import Logging
import ServiceLifecycle
import UnixSignals

/// Runs long-lived services until they finish or SIGINT/SIGTERM asks them to stop gracefully.
public enum ServiceRunner {
    public static func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
