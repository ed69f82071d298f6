import Logging
import NIOCore
import SonicCore
import SonicNet
import SonicWire

/// Gets a content's manifest from the first peer that serves a correct one.
///
/// A manifest is trusted only if its SHA-256 equals the content id the index gave; a peer
/// that sends another is skipped (and reported), never believed.
public enum ManifestFetcher {
    public struct Failure: Error, CustomStringConvertible {
        public var contentID: ContentID
        public var attempts: [(Endpoint, String)]
        public var description: String {
            "no peer served the manifest of \(contentID.shortHex): "
                + attempts.map { "\($0.0): \($0.1)" }.joined(separator: "; ")
        }
    }

    /// - Parameter timeout: how long a peer may take to answer (a silent peer costs no more).
    public static func fetch(_ contentID: ContentID, from peers: [Endpoint], timeout: Duration,
                             secret: NetworkSecret? = nil, transport: TransportSecurity = .off, pins: PeerPins = PeerPins(),
                             logger: Logger) async throws -> (Manifest, rejected: [Endpoint]) {
        let idle = TimeAmount(timeout)
        let connector = Connector(connectTimeout: min(idle, .seconds(2)), idleTimeout: idle, transport: transport)
        var attempts: [(Endpoint, String)] = []
        var rejected: [Endpoint] = []
        for peer in peers {
            do {
                let channel = try await connector.connect(to: peer, expecting: pins.expected(for: peer))
                let bytes: [UInt8] = try await channel.executeThenClose { inbound, outbound in
                    let identities = try await channel.transportIdentities()
                    var session = FrameSession(inbound: inbound, outbound: outbound)
                    _ = try await session.clientHandshake(Hello(role: .client, agent: "sonic-get"), secret: secret,
                                                          identities: identities)
                    let reply = try await session.request(.manifestRequest(contentID))
                    try? await session.send(.exit)
                    guard case .manifest(let id, let bytes) = reply, id == contentID else {
                        throw SessionError.unexpected(reply.kind, expecting: "MANIFEST")
                    }
                    return bytes
                }
                guard SHA256Hash.of(bytes) == contentID.hash else {
                    attempts.append((peer, "manifest does not match the content id"))
                    rejected.append(peer)
                    continue
                }
                return (try Manifest(canonicalEncoding: bytes), rejected)
            } catch let refusal as SessionError where refusal.isIdentityMismatch {
                pins.refused(refusal)
                logger.error("peer refused: \(refusal)")
                attempts.append((peer, "\(refusal)"))
            } catch {
                logger.debug("manifest fetch failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                attempts.append((peer, "\(error)"))
            }
        }
        throw Failure(contentID: contentID, attempts: attempts)
    }
}
