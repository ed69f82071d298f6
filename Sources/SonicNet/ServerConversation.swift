import Logging
import NIOCore
import SonicCore
import SonicWire

/// The server side of every connection, index or peer: HELLO must come first and carry our
/// protocol version; then `body` runs the conversation.
///
/// Whatever goes wrong ends only this connection, after telling the other side why:
/// a malformed, oversized or unknown frame gets `ERROR` with the matching code; so does a
/// violation that `body` throws as an ``ErrorMessage``; an idle timeout gets `ERROR timeout`
/// (if the socket still takes it). Nothing is rethrown: the server keeps serving everyone else.
public enum ServerConversation {
    public static func run(
        _ connection: FrameChannel,
        sessionID: UInt64,
        features: Features,
        secret: NetworkSecret? = nil,
        logger: Logger,
        body: (inout FrameSession, Hello) async throws -> Void
    ) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var session = FrameSession(inbound: inbound, outbound: outbound)
                do {
                    let hello = try await handshake(&session, connection: connection, sessionID: sessionID,
                                                    features: features, secret: secret)
                    try await body(&session, hello)
                } catch let error as WireError {
                    logger.notice("bad frame, closing", metadata: ["error": "\(error)"])
                    try? await session.send(.error(ErrorMessage(error.code, error.description)))
                } catch let error as ErrorMessage {
                    logger.notice("protocol violation, closing", metadata: ["error": "\(error)"])
                    try? await session.send(.error(error))
                } catch SessionError.idleTimeout(let seconds) {
                    logger.info("idle timeout, closing", metadata: ["seconds": "\(seconds)"])
                    try? await session.send(.error(ErrorMessage(.timeout, "no message for \(Int(seconds))s")))
                } catch SessionError.frameTimeout(let seconds) {
                    logger.notice("frame too slow, closing", metadata: ["seconds": "\(seconds)"])
                    try? await session.send(.error(ErrorMessage(.timeout, "a frame took longer than \(Int(seconds))s")))
                } catch SessionError.closed {
                    logger.debug("closed by peer")
                }
            }
        } catch is CancellationError {
            logger.debug("connection cancelled")
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    private static func handshake(_ session: inout FrameSession, connection: FrameChannel, sessionID: UInt64, features: Features,
                                  secret: NetworkSecret?) async throws -> Hello {
        let first = try await session.receive()
        guard case .hello(let hello) = first else {
            throw ErrorMessage(.handshakeRequired, "the first frame must be HELLO, got \(first.kind)")
        }
        guard hello.version == ProtocolVersion.current else {
            throw ErrorMessage(.versionMismatch,
                               "protocol version \(hello.version) is not supported; this server speaks \(ProtocolVersion.current)")
        }
        if let secret {
            // Members only: prove we know the secret, then ask the client to prove it too. Over
            // TLS both proofs cover both certificates' peer ids, so a relay in the middle (a
            // different certificate on each side) cannot pass a member's proof along.
            let binding = try await connection.transportIdentities().map {
                NetworkSecret.Binding(server: $0.local, client: $0.remote)
            }
            let nonce = NetworkSecret.makeNonce()
            try await session.send(.challenge(Challenge(
                nonce: nonce, proof: secret.serverProof(clientNonce: hello.nonce, serverNonce: nonce, binding: binding))))
            let answer = try await session.receive()
            guard case .auth(let proof) = answer else {
                throw ErrorMessage(.notAuthorized, "this network is members-only: a secret is required")
            }
            guard NetworkSecret.matches(proof, secret.clientProof(clientNonce: hello.nonce, serverNonce: nonce,
                                                                  binding: binding)) else {
                throw ErrorMessage(.notAuthorized, "wrong network secret")
            }
        }
        try await session.send(.welcome(Welcome(sessionID: sessionID, features: hello.features.intersection(features))))
        return hello
    }
}
