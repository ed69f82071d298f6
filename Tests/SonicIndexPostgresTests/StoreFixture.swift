import Logging
import PostgresNIO
import ServiceLifecycle
import SonicCore
import SonicIndex
import SonicIndexPostgres
import SonicTestSupport
import SonicWire

/// A private PostgreSQL server for one test, and stores on its databases, each run as the
/// index runs it: its client and itself in a service group, stopped gracefully at the end.
final class StoreFixture: Sendable {
    let cluster: PostgresCluster
    let logger: Logger = {
        var logger = Logger(label: "postgres-store-test")
        logger.logLevel = .warning
        return logger
    }()

    init(cluster: PostgresCluster) {
        self.cluster = cluster
    }

    /// Runs `body` with a fixture on a new private server, stopped afterwards.
    static func with(_ body: (StoreFixture) async throws -> Void) async throws {
        try await PostgresCluster.with { cluster in try await body(StoreFixture(cluster: cluster)) }
    }

    /// Runs `body` with a store on `database` (created if new), then shuts the store down.
    func withStore<Value: Sendable>(
        database: String = "postgres", limits: IndexLimits = IndexLimits(), heartbeatTimeout: Duration = .seconds(15),
        _ body: @Sendable (PostgresIndexStore) async throws -> Value
    ) async throws -> Value {
        let address = PostgresStoreAddress(parsing: cluster.url(database: database))!
        let client = PostgresClient(configuration: address.clientConfiguration, backgroundLogger: logger)
        let store = PostgresIndexStore(
            client: client, configuration: .init(limits: limits, heartbeatTimeout: heartbeatTimeout, label: "test"),
            logger: logger)
        let group = ServiceGroup(services: [client, store], logger: logger)
        // The body runs beside the group, so that a store that fails (and ends the group)
        // cancels it; the group is awaited before returning, so `body` does not escape.
        return try await withoutActuallyEscaping(body) { body in
            try await withThrowingTaskGroup(of: Value?.self) { tasks in
                tasks.addTask {
                    try await group.run()
                    return nil
                }
                tasks.addTask {
                    do {
                        let value = try await body(store)
                        await group.triggerGracefulShutdown()
                        return value
                    } catch {
                        await group.triggerGracefulShutdown()
                        throw error
                    }
                }
                // The first error that is not the cancellation it caused wins.
                var value: Value?
                var failure: (any Error)?
                while let next = await tasks.nextResult() {
                    switch next {
                    case .success(let v?): value = v
                    case .success(nil): break
                    case .failure(let error):
                        if failure == nil || failure is CancellationError { failure = error }
                        tasks.cancelAll()
                    }
                }
                if let failure { throw failure }
                return value!
            }
        }
    }

}

enum Files {
    /// Name pieces: accents, other scripts, ligatures, repeats, LIKE's own `%` and `_`.
    static let fragments = [
        "ab", "aba", "abab", "Résumé", "resume", "RESUME", "café", "CAFE", "naïve", "Ünïcødé", "straße", "Ωμέγα",
        "ωμεγα", "東京", "ﬁle", "file", "🎵", "mp3", "MP3", ".", "-", " ", "/", "x", "İstanbul", "50%", "a_b", "\\",
    ]

    static func randomName(_ g: inout SeededBytes) -> String {
        var name = ""
        for _ in 0..<Int.random(in: 1...5, using: &g) { name += fragments.randomElement(using: &g)! }
        name = name.trimmingPrefix(while: { $0 == "/" || $0 == " " }).description
        return SharedName.isSafe(name) ? name : "plain"
    }

    static func file(_ name: String, content: Int) -> SharedFile {
        let id = ContentID(SHA256Hash.of(Array("content \(content)".utf8)))
        return SharedFile(name: name, size: UInt64(content), contentID: id, fileHash: SHA256Hash.of(Array("hash \(content)".utf8)))
    }
}
