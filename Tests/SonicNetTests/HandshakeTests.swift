import Logging
import NIOCore
import NIOEmbedded
import SonicCore
import SonicNet
import SonicWire
import Testing

/// Whole server conversations on `NIOAsyncTestingChannel`, through the same channel setup
/// that production servers use: bytes in, bytes out, no sockets.
@Suite struct HandshakeTests {
    /// A testing channel configured like an accepted server connection, with the
    /// conversation running on it; returns the channel and the conversation's task.
    func serve(secret: NetworkSecret? = nil,
               body: @escaping @Sendable (inout FrameSession, Hello) async throws -> Void = { _, _ in })
        async throws -> (NIOAsyncTestingChannel, Task<Void, Never>) {
        let channel = NIOAsyncTestingChannel()
        let frames = try await channel.eventLoop.submit {
            try FrameChannelSetup.configure(channel)
        }.get()
        let task = Task {
            await ServerConversation.run(frames, sessionID: 7, features: [.deflate], secret: secret,
                                         logger: Logger(label: "test"), body: body)
        }
        return (channel, task)
    }

    func send(_ channel: NIOAsyncTestingChannel, _ message: Message) async throws {
        var buffer = ByteBuffer()
        buffer.writeFrame(message)
        try await channel.writeInbound(buffer)
    }

    func send(_ channel: NIOAsyncTestingChannel, bytes: [UInt8]) async throws {
        try await channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    /// The next message the server wrote.
    func receive(_ channel: NIOAsyncTestingChannel) async throws -> Message? {
        var buffer = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        var decoder = FrameDecoder()
        return try decoder.decode(buffer: &buffer)
    }

    @Test func helloIsAnsweredWithWelcomeAndTheNegotiatedFeatures() async throws {
        let (channel, task) = try await serve { session, hello in
            #expect(hello.agent == "tester")
            let next = try await session.receive()
            #expect(next == .exit)
        }
        try await send(channel, .hello(Hello(role: .client, features: [.deflate], agent: "tester")))
        #expect(try await receive(channel) == .welcome(Welcome(sessionID: 7, features: [.deflate])))
        try await send(channel, .exit)
        await task.value
    }

    @Test func aFrameBeforeHelloGetsAnErrorAndTheConversationEnds() async throws {
        let (channel, task) = try await serve()
        try await send(channel, .heartbeat)
        guard case .error(let e) = try await receive(channel) else {
            Issue.record("no ERROR")
            return
        }
        #expect(e.code == .handshakeRequired)
        await task.value
    }

    @Test func garbageGetsAnErrorNamingWhatWasWrong() async throws {
        let (channel, task) = try await serve()
        // The testing channel also hands the decoder's error back to the writer.
        await #expect(throws: WireError.unknownKind(0x7f)) { try await send(channel, bytes: [0, 0, 0, 1, 0x7f, 0]) }
        guard case .error(let e) = try await receive(channel) else {
            Issue.record("no ERROR")
            return
        }
        #expect(e.code == .unknownKind)
        #expect(e.message.contains("0x7f"))
        await task.value
    }

    @Test func aMembersOnlyServerChallengesAndAcceptsTheRightProof() async throws {
        let secret = NetworkSecret(Array("members".utf8))
        let (channel, task) = try await serve(secret: secret) { session, _ in
            _ = try await session.receive()
        }
        let clientNonce = [UInt8](repeating: 5, count: 16)
        try await send(channel, .hello(Hello(role: .client, nonce: clientNonce, agent: "member")))
        guard case .challenge(let challenge) = try await receive(channel) else {
            Issue.record("no CHALLENGE")
            return
        }
        // The server proved it knows the secret, over both nonces.
        #expect(challenge.proof == secret.serverProof(clientNonce: clientNonce, serverNonce: challenge.nonce))
        try await send(channel, .auth(proof: secret.clientProof(clientNonce: clientNonce, serverNonce: challenge.nonce)))
        guard case .welcome = try await receive(channel) else {
            Issue.record("a member was not welcomed")
            return
        }
        try await send(channel, .exit)
        await task.value
    }

    @Test func aWrongProofIsRefused() async throws {
        let (channel, task) = try await serve(secret: NetworkSecret(Array("members".utf8)))
        let clientNonce = [UInt8](repeating: 5, count: 16)
        try await send(channel, .hello(Hello(role: .client, nonce: clientNonce, agent: "intruder")))
        guard case .challenge(let challenge) = try await receive(channel) else {
            Issue.record("no CHALLENGE")
            return
        }
        let guess = NetworkSecret(Array("guess".utf8))
        try await send(channel, .auth(proof: guess.clientProof(clientNonce: clientNonce, serverNonce: challenge.nonce)))
        guard case .error(let e) = try await receive(channel) else {
            Issue.record("a wrong proof was not refused")
            return
        }
        #expect(e.code == .notAuthorized)
        await task.value
    }

    /// A client's first request may leave right behind HELLO: the server answers it after WELCOME.
    @Test func aRequestRightBehindHelloIsAnsweredAfterWelcome() async throws {
        let (channel, task) = try await serve { session, _ in
            #expect(try await session.receive() == .heartbeat)
            try await session.send(.ok)
            _ = try? await session.receive()
        }
        var both = ByteBuffer()
        both.writeFrame(.hello(Hello(role: .client, agent: "eager")))
        both.writeFrame(.heartbeat)
        try await channel.writeInbound(both)
        #expect(try await receive(channel) == .welcome(Welcome(sessionID: 7)))
        #expect(try await receive(channel) == .ok)
        try await send(channel, .exit)
        await task.value
    }

    /// The client side of a session on a testing channel: `body` runs on it.
    func client<T: Sendable>(_ body: @escaping @Sendable (inout FrameSession) async throws -> T)
        async throws -> (NIOAsyncTestingChannel, Task<T, any Error>) {
        let channel = NIOAsyncTestingChannel()
        let frames = try await channel.eventLoop.submit { try FrameChannelSetup.configure(channel) }.get()
        let task = Task {
            try await frames.executeThenClose { inbound, outbound in
                var session = FrameSession(inbound: inbound, outbound: outbound)
                return try await body(&session)
            }
        }
        return (channel, task)
    }

    @Test func aClientSendsItsFirstRequestWithHelloBeforeAnyAnswer() async throws {
        let id = ContentID(SHA256Hash.of([1]))
        let (channel, client) = try await client { session in
            let welcome = try await session.clientHandshake(Hello(role: .client, agent: "eager"), then: .manifestRequest(id))
            return (welcome, try await session.receive())
        }
        guard case .hello = try await receive(channel) else {
            Issue.record("no HELLO")
            return
        }
        #expect(try await receive(channel) == .manifestRequest(id))
        try await send(channel, .welcome(Welcome(sessionID: 1)))
        try await send(channel, .manifest(id, [9]))
        let (welcome, answer) = try await client.value
        #expect(welcome == Welcome(sessionID: 1))
        #expect(answer == .manifest(id, [9]))
    }

    /// With a secret, the request waits until the server has proved it: it leaves with AUTH.
    @Test func aMemberSendsItsFirstRequestOnlyWithAuth() async throws {
        let secret = NetworkSecret(Array("members".utf8))
        let id = ContentID(SHA256Hash.of([2]))
        let (channel, client) = try await client { session in
            try await session.clientHandshake(Hello(role: .client, agent: "member"), secret: secret, then: .manifestRequest(id))
        }
        guard case .hello(let hello) = try await receive(channel) else {
            Issue.record("no HELLO")
            return
        }
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil, "something left before the server's proof")
        let serverNonce = [UInt8](repeating: 3, count: 16)
        try await send(channel, .challenge(Challenge(
            nonce: serverNonce, proof: secret.serverProof(clientNonce: hello.nonce, serverNonce: serverNonce))))
        #expect(try await receive(channel) == .auth(proof: secret.clientProof(clientNonce: hello.nonce, serverNonce: serverNonce)))
        #expect(try await receive(channel) == .manifestRequest(id))
        try await send(channel, .welcome(Welcome(sessionID: 2)))
        #expect(try await client.value == Welcome(sessionID: 2))
    }
}

@Suite struct NetworkSecretTests {
    let a = [UInt8](repeating: 1, count: 16)
    let b = [UInt8](repeating: 2, count: 16)

    @Test func proofsDependOnTheSecretBothNoncesAndTheSide() {
        let secret = NetworkSecret(Array("s".utf8))
        let server = secret.serverProof(clientNonce: a, serverNonce: b)
        #expect(server.count == 32)
        #expect(server != secret.clientProof(clientNonce: a, serverNonce: b))       // a server proof is no client proof
        #expect(server != secret.serverProof(clientNonce: b, serverNonce: a))       // nonces are not interchangeable
        #expect(server != NetworkSecret(Array("t".utf8)).serverProof(clientNonce: a, serverNonce: b))
        #expect(server == NetworkSecret(Array("s".utf8)).serverProof(clientNonce: a, serverNonce: b))
    }

    @Test func proofComparison() {
        #expect(NetworkSecret.matches([1, 2, 3], [1, 2, 3]))
        #expect(!NetworkSecret.matches([1, 2, 3], [1, 2, 4]))
        #expect(!NetworkSecret.matches([1, 2, 3], [1, 2]))
        #expect(NetworkSecret.makeNonce() != NetworkSecret.makeNonce())
    }
}

@Suite struct ConnectionLimiterTests {
    @Test func capsTotalAndPerIPAndFreesSlotsOnRelease() {
        let limiter = ConnectionLimiter(.init(total: 3, perIP: 2))
        #expect(limiter.admit("10.0.0.1") == nil)
        #expect(limiter.admit("10.0.0.1") == nil)
        #expect(limiter.admit("10.0.0.1")?.contains("too many connections from 10.0.0.1") == true)
        #expect(limiter.admit("10.0.0.2") == nil)
        #expect(limiter.admit("10.0.0.3")?.contains("limit of 3") == true)
        limiter.release("10.0.0.1")
        #expect(limiter.count == 2)
        #expect(limiter.admit("10.0.0.3") == nil)
        #expect(limiter.admit("10.0.0.1")?.contains("limit of 3") == true)
    }
}
