import Logging
import SonicCore
import SonicNet
import Synchronization

/// Whether each index answers: a handshake with each, at most once per `maxAge` (the status
/// endpoint may be polled often; the index should not see a connection per poll).
final class IndexProbe: Sendable {
    private let indexes: [Endpoint]
    private let secret: NetworkSecret?
    private let transport: TransportSecurity
    private let trust: IndexTrust
    private let maxAge: Duration
    private let cache = Mutex<(at: ContinuousClock.Instant, states: [IndexState])?>(nil)

    init(indexes: [Endpoint], secret: NetworkSecret?, transport: TransportSecurity, trust: IndexTrust,
         maxAge: Duration = .seconds(2)) {
        self.transport = transport
        self.trust = trust
        self.indexes = indexes
        self.secret = secret
        self.maxAge = maxAge
    }

    func states(logger: Logger) async -> [IndexState] {
        if let c = cache.withLock({ $0 }), ContinuousClock.now - c.at < maxAge { return c.states }
        var states: [IndexState] = []
        for index in indexes {
            let client = IndexClient(indexes: [index], agent: "sonic-seed", secret: secret, transport: transport, trust: trust)
            do {
                try await client.withFirstIndex(logger: logger) { _ in }
                states.append(IndexState(address: index.description, reachable: true, error: nil))
            } catch {
                states.append(IndexState(address: index.description, reachable: false, error: "\(error)"))
            }
        }
        let result = states
        cache.withLock { $0 = (.now, result) }
        return result
    }
}
