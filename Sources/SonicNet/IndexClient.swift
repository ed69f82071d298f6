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
    /// Asked for in HELLO: `.swarm` makes an index that speaks it list partial holders too
    /// (``SearchResult/partialPeers``).
    public var features: Features
    /// The peer id each index must present (pins, known-indexes file).
    public var trust: IndexTrust

    /// The default connector gives a dead or hung index at most a second before the next is tried.
    public init(indexes: [Endpoint], connector: Connector = Connector(connectTimeout: .seconds(1), idleTimeout: .seconds(1)),
                agent: String, secret: NetworkSecret? = nil, features: Features = [], trust: IndexTrust = IndexTrust()) {
        precondition(!indexes.isEmpty)
        self.indexes = indexes
        self.connector = connector
        self.agent = agent
        self.secret = secret
        self.features = features
        self.trust = trust
    }

    /// A client over `transport` with the default connector's timeouts.
    public init(indexes: [Endpoint], agent: String, secret: NetworkSecret?, features: Features = [],
                transport: TransportSecurity, trust: IndexTrust) {
        self.init(indexes: indexes, connector: Self.connector(transport), agent: agent, secret: secret, features: features,
                  trust: trust)
    }

    /// The connector for index conversations with `transport`: an index that does not accept
    /// the connection within a second, or goes silent for a second (three with TLS, whose
    /// handshake costs an index serving many clients at once far more CPU than a HELLO), is
    /// passed over for the next.
    public static func connector(_ transport: TransportSecurity) -> Connector {
        Connector(connectTimeout: .seconds(1), idleTimeout: transport.isOn ? .seconds(3) : .seconds(1), transport: transport)
    }

    /// All result groups for `query`, following pages until the index has no more.
    public func search(_ mode: SearchRequest.Mode, _ query: String, logger: Logger) async throws -> [SearchResult] {
        try WireLimits.checkString(query, what: "the query")
        // The first page is asked for right behind HELLO.
        let firstPage = Message.search(SearchRequest(mode: mode, query: query, offset: 0))
        return try await withFirstIndex(logger: logger, asking: firstPage) { session in
            var results: [SearchResult] = []
            var offset: UInt32 = 0
            while true {
                let reply = offset == 0
                    ? try await session.receiveReply()
                    : try await session.request(.search(SearchRequest(mode: mode, query: query, offset: offset)))
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

    /// Runs `body` on a handshaken session with the first index that answers. `first`, if
    /// given, is sent right behind HELLO: `body` starts with its answer still to receive.
    public func withFirstIndex<Result: Sendable>(
        logger: Logger, asking first: Message? = nil,
        _ body: @Sendable (inout FrameSession) async throws -> Result
    ) async throws -> Result {
        var failures: [(Endpoint, String)] = []
        for endpoint in indexes {
            do {
                let (channel, identities) = try await connector.connect(toIndex: endpoint, trust: trust)
                return try await channel.executeThenClose { inbound, outbound in
                    var session = FrameSession(inbound: inbound, outbound: outbound)
                    _ = try await session.clientHandshake(Hello(role: .client, features: features, agent: agent), secret: secret,
                                                          identities: identities, then: first)
                    let result = try await body(&session)
                    try? await session.send(.exit)
                    return result
                }
            } catch let error as SessionError {
                // A refusal by a live index (version, secret) is an answer, not an outage; a
                // peer's port refuses index commands, which says it is not an index at all.
                switch error {
                case .remote(let e) where e.code == .unexpectedMessage:
                    failures.append((endpoint, "a peer answered there, not an index"))
                    continue
                case .remote: throw error
                case let refusal where refusal.isPermanent: throw error
                default: break
                }
                logger.debug("index unavailable", metadata: ["index": "\(endpoint)", "error": "\(error)"])
                failures.append((endpoint, Self.reason(error)))
            } catch let changed as IndexIdentityChanged {
                throw changed
            } catch {
                logger.debug("index unavailable", metadata: ["index": "\(endpoint)", "error": "\(error)"])
                failures.append((endpoint, Self.reason(error)))
            }
        }
        throw IndexUnavailable(failures: failures)
    }

    /// Why one index did not answer, without repeating its address.
    private static func reason(_ error: any Error) -> String {
        switch error {
        case SessionError.connectFailed(_, let why): why
        case SessionError.unexpected(let kind, _): "it answered \(kind): not an index (a seeder's port?)"
        default: NetworkErrorText.reason(error)
        }
    }
}

/// No index in the list answered; why, for each.
public struct IndexUnavailable: Error, CustomStringConvertible {
    public var failures: [(index: Endpoint, reason: String)]
    public var indexes: [Endpoint] { failures.map(\.index) }
    public var description: String {
        if failures.count == 1 { return "cannot reach the index at \(failures[0].index) (\(failures[0].reason))" }
        return "no index answered: " + failures.map { "\($0.index) (\($0.reason))" }.joined(separator: "; ")
    }
}

/// An index refused this peer in a way that retrying cannot change.
public struct IndexRefused: Error, CustomStringConvertible {
    public var index: Endpoint
    public var reason: SessionError

    public init(index: Endpoint, reason: SessionError) {
        self.index = index
        self.reason = reason
    }

    /// A members-only refusal (no secret, or another one), as opposed to a wrong address.
    public var isMembership: Bool {
        switch reason {
        case .secretRequired, .notMember: true
        case .remote(let e): e.code == .notAuthorized
        default: false
        }
    }

    public var description: String {
        switch reason {
        case .remote(let e) where e.code == .unexpectedMessage:
            "\(index) is not an index (a peer answered there: \(e.message))"
        default:
            "the index at \(index) refused this peer: \(reason)"
        }
    }
}
