import NIOCore
import SonicWire

/// One side of a conversation over a ``FrameChannel``: send a message, receive the next one.
///
/// Lives inside `executeThenClose`; owns the inbound iterator, so it is not Sendable.
public struct FrameSession {
    public let outbound: NIOAsyncChannelOutboundWriter<Message>
    private var inbound: NIOAsyncChannelInboundStream<Message>.AsyncIterator

    public init(inbound: NIOAsyncChannelInboundStream<Message>, outbound: NIOAsyncChannelOutboundWriter<Message>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    public func send(_ message: Message) async throws {
        try await outbound.write(message)
    }

    /// The next message; throws ``SessionError/closed`` at end of stream.
    public mutating func receive() async throws -> Message {
        guard let message = try await inbound.next() else { throw SessionError.closed }
        return message
    }

    /// The next message, turning a connection-level ERROR into ``SessionError/remote(_:)``.
    public mutating func receiveReply() async throws -> Message {
        let message = try await receive()
        if case .error(let e) = message { throw SessionError.remote(e) }
        return message
    }

    /// Sends `request` and returns the reply (ERROR thrown as ``SessionError/remote(_:)``).
    /// `next`, if given, is written with it, before the reply (pipelined).
    public mutating func request(_ request: Message, then next: Message? = nil) async throws -> Message {
        do {
            if let next {
                try await outbound.write(contentsOf: [request, next])
            } else {
                try await send(request)
            }
        } catch {
            // The other side may have answered and closed before our frame went out (a server
            // refusing the connection at once): its answer says why better than the failed write.
            if case .error(let e)? = try? await receive() { throw SessionError.remote(e) }
            throw error
        }
        return try await receiveReply()
    }

    /// Sends `request` and expects OK.
    public mutating func requestOK(_ request: Message) async throws {
        let reply = try await self.request(request)
        guard case .ok = reply else { throw SessionError.unexpected(reply.kind, expecting: "OK") }
    }

    /// The client half of the handshake: HELLO out, WELCOME back; with a secret, the
    /// challenge in between (the server must prove the secret first, docs/PROTOCOL.md).
    /// `identities`: the connection's TLS identities (``NIOAsyncChannel/transportIdentities()``),
    /// which both proofs cover; nil on a plain connection.
    ///
    /// `first`, if given, leaves right behind the last handshake frame (HELLO, or AUTH with a
    /// secret), without waiting for WELCOME: its answer is the next message after WELCOME.
    /// That saves a round trip; a client with a secret still sends nothing before it has
    /// checked the server's proof.
    public mutating func clientHandshake(_ hello: Hello, secret: NetworkSecret? = nil,
                                         identities: TransportIdentities? = nil,
                                         then first: Message? = nil) async throws -> Welcome {
        let binding = identities.map { NetworkSecret.Binding(server: $0.remote, client: $0.local) }
        var hello = hello
        hello.nonce = NetworkSecret.makeNonce()
        let reply = try await request(.hello(hello), then: secret == nil ? first : nil)
        switch reply {
        case .welcome(let welcome):
            // A members-only client talks only to members.
            guard secret == nil else { throw SessionError.notMember }
            return welcome
        case .challenge(let challenge):
            guard let secret else { throw SessionError.secretRequired }
            let expected = secret.serverProof(clientNonce: hello.nonce, serverNonce: challenge.nonce, binding: binding)
            guard NetworkSecret.matches(challenge.proof, expected) else { throw SessionError.notMember }
            let proof = secret.clientProof(clientNonce: hello.nonce, serverNonce: challenge.nonce, binding: binding)
            let answer = try await request(.auth(proof: proof), then: first)
            guard case .welcome(let welcome) = answer else { throw SessionError.unexpected(answer.kind, expecting: "WELCOME") }
            return welcome
        default:
            throw SessionError.unexpected(reply.kind, expecting: "WELCOME")
        }
    }
}
