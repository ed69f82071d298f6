import Logging
import NIOCore
import SonicCore
import SonicNet
import Synchronization
import Testing

/// Stopping a listener while clients are still connecting: every connection it accepted is
/// closed (handled or not), and nothing is dropped unclosed, which NIO would trap on.
@Suite struct ServerListenerTests {
    // Alone it takes well under a second; the limit is generous because in the full parallel
    // run the tests whose clients block on sockets can hold the two threads that run tasks.
    @Test(.timeLimit(.minutes(5)))
    func stoppingWhileClientsConnectClosesEveryAcceptedConnection() async throws {
        let settings = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(60),
                                               frameTimeout: .seconds(60), connections: .init(total: 256, perIP: 256))
        let listener = try await ServerListener.bind(settings)
        let handled = Atomic<Int>(0)
        let server = Task {
            try await listener.serve { connection in
                handled.add(1, ordering: .relaxed)
                // Holds the connection until the server stops.
                try? await connection.executeThenClose { inbound, _ in for try await _ in inbound {} }
            }
        }
        // No idle timeout: a client ends only when the server closes its connection.
        let connector = Connector(connectTimeout: .seconds(10), idleTimeout: nil)
        let clients = 64
        let (ended, refused) = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    guard let connection = try? await connector.connect(to: listener.boundAddress) else { return false }
                    try? await connection.executeThenClose { inbound, _ in for try await _ in inbound {} }
                    return true
                }
            }
            while handled.load(ordering: .relaxed) < 4 { try await Task.sleep(for: .milliseconds(1)) }
            server.cancel()
            // A cancelled server ends with CancellationError or quietly; anything else is a failure.
            do { try await server.value } catch is CancellationError {}
            var ended = 0, refused = 0
            for try await connected in group { if connected { ended += 1 } else { refused += 1 } }
            return (ended, refused)
        }
        #expect(ended + refused == clients)
        #expect(ended >= 4)
    }
    /// Connections are spread over ``ServerListener/lanes`` task groups: each lane serves any
    /// number of them at once, so more open connections than lanes are all being handled.
    @Test(.timeLimit(.minutes(5)))
    func moreOpenConnectionsThanLanesAreAllHandledAtOnce() async throws {
        let settings = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(60),
                                               frameTimeout: .seconds(60), connections: .init(total: 512, perIP: 512))
        let listener = try await ServerListener.bind(settings)
        let clients = ServerListener.lanes * 3 + 1
        let handling = Atomic<Int>(0)
        let server = Task {
            try await listener.serve { connection in
                handling.add(1, ordering: .relaxed)
                // Holds the connection until the server stops.
                try? await connection.executeThenClose { inbound, _ in for try await _ in inbound {} }
            }
        }
        let connector = Connector(connectTimeout: .seconds(10), idleTimeout: nil)
        let ended = try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let connection = try await connector.connect(to: listener.boundAddress)
                    // Ends when the stopped server closes it (cleanly or not).
                    try? await connection.executeThenClose { inbound, _ in for try await _ in inbound {} }
                }
            }
            // Every client is being handled while all of them are still connected.
            while handling.load(ordering: .relaxed) < clients { try await Task.sleep(for: .milliseconds(1)) }
            server.cancel()
            do { try await server.value } catch is CancellationError {}
            var ended = 0
            while try await group.next() != nil { ended += 1 }
            return ended
        }
        #expect(handling.load(ordering: .relaxed) == clients)
        #expect(ended == clients)
    }
}
