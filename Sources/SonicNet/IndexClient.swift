import Logging
import NIOCore
import SonicCore
import SonicWire

/// Short conversations with the index: connect, HELLO, one request, EXIT.
///
/// Given several indexes, asks them in order and uses the first that answers; a dead index
/// costs at most the connector's connect timeout (1 s by default) before the next is tried.
public struct IndexClient: Sendable {
    public var indexes: [Endpoint]
    public var connector: Connector
    public var agent: String
    public var secret: NetworkSecret?

    /// The default connector gives a dead or hung index at most a second before the next is tried.
    public init(indexes: [Endpoint], connector: Connector = Connector(connectTimeout: .seconds(1), idleTimeout: .seconds(1)),
                agent: String, secret: NetworkSecret? = nil) {
        precondition(!indexes.isEmpty)
        self.indexes = indexes
        self.connector = connector
        self.agent = agent
        self.secret = secret
    }

    /// All result groups for `query`, following pages until the index has no more.
    public func search(_ mode: SearchRequest.Mode, _ query: String, logger: Logger) async throws -> [SearchResult] {
        try WireLimits.checkString(query, what: "the query")
        return try await withFirstIndex(logger: logger) { session in
            var results: [SearchResult] = []
            var offset: UInt32 = 0
            while true {
                let reply = try await session.request(.search(SearchRequest(mode: mode, query: query, offset: offset)))
                guard case .searchResults(let page) = reply else {
                    throw SessionError.unexpected(reply.kind, expecting: "RESULTS")
                }
                results += page.results
                offset += UInt32(page.results.count)
                if page.results.isEmpty || offset >= page.total { break }
            }
            return results
        }
    }

    /// Runs `body` on a handshaken session with the first index that answers.
    public func withFirstIndex<Result: Sendable>(
        logger: Logger,
        _ body: @Sendable (inout FrameSession) async throws -> Result
    ) async throws -> Result {
        var lastError: (any Error)?
        for endpoint in indexes {
            do {
                let channel = try await connector.connect(to: endpoint)
                return try await channel.executeThenClose { inbound, outbound in
                    var session = FrameSession(inbound: inbound, outbound: outbound)
                    _ = try await session.clientHandshake(Hello(role: .client, agent: agent), secret: secret)
                    let result = try await body(&session)
                    try? await session.send(.exit)
                    return result
                }
            } catch let error as SessionError {
                // A refusal by a live index (version, secret) is an answer, not an outage.
                switch error {
                case .remote, .secretRequired, .notMember: throw error
                default: break
                }
                logger.debug("index unavailable", metadata: ["index": "\(endpoint)", "error": "\(error)"])
                lastError = error
            } catch {
                logger.debug("index unavailable", metadata: ["index": "\(endpoint)", "error": "\(error)"])
                lastError = error
            }
        }
        throw IndexUnavailable(indexes: indexes, lastError: lastError.map { String(describing: $0) } ?? "")
    }
}

/// No index in the list answered.
public struct IndexUnavailable: Error, CustomStringConvertible {
    public var indexes: [Endpoint]
    public var lastError: String
    public var description: String {
        let list = indexes.map(\.description).joined(separator: ", ")
        return "no index answered (\(list))" + (lastError.isEmpty ? "" : ": \(lastError)")
    }
}
