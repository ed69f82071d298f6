import Logging
import NIOCore
import SonicCore
import SonicNet
import SonicWire
import Synchronization
import Testing

/// Real connections on loopback through ``ServerListener`` and ``Connector``, as the programs
/// make them: TLS identities, pins, transport mismatches and members-only proofs.
@Suite struct TLSConnectionTests {
    static let serverIdentity = try! PeerIdentity.generate()
    static let clientIdentity = try! PeerIdentity.generate()
    static let relayIdentity = try! PeerIdentity.generate()

    /// The client peer ids a server saw.
    final class Recorder: Sendable {
        let ids = Mutex<[PeerID?]>([])
    }

    /// A server whose conversation records the client's peer id and waits for EXIT.
    final class Server: Sendable {
        let listener: ServerListener
        let task: Task<Void, any Error>
        let recorder = Recorder()

        init(_ transport: TransportSecurity, secret: NetworkSecret? = nil) async throws {
            // Generous deadlines: these tests share a loaded machine with the whole suite.
            let settings = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(60),
                                                   frameTimeout: .seconds(60), connections: .init(total: 16, perIP: 16),
                                                   secret: secret, transport: transport)
            let listener = try await ServerListener.bind(settings)
            self.listener = listener
            let recorder = self.recorder
            task = Task {
                try await listener.serve { connection in
                    await ServerConversation.run(connection, sessionID: 1, features: [], secret: secret,
                                                 logger: Logger(label: "test")) { session, _ in
                        let remote = try await connection.transportIdentities()?.remote
                        recorder.ids.withLock { $0.append(remote) }
                        _ = try await session.receive()
                    }
                }
            }
        }

        var seenClients: [PeerID?] { recorder.ids.withLock { $0 } }

        func stop() async {
            task.cancel()
            try? await listener.channel.channel.close()
        }
    }

    func tls(_ identity: PeerIdentity) throws -> TransportSecurity { try .tls(identity) }

    /// Connects and runs the client handshake; returns the identities and the welcome.
    func handshake(_ connector: Connector, to endpoint: Endpoint, expecting: PeerID? = nil,
                   secret: NetworkSecret? = nil) async throws -> (TransportIdentities?, Welcome) {
        let channel = try await connector.connect(to: endpoint, expecting: expecting)
        return try await channel.executeThenClose { inbound, outbound in
            let identities = try await channel.transportIdentities()
            var session = FrameSession(inbound: inbound, outbound: outbound)
            let welcome = try await session.clientHandshake(Hello(role: .client, agent: "test"), secret: secret,
                                                            identities: identities)
            try? await session.send(.exit)
            return (identities, welcome)
        }
    }

    @Test func bothSidesLearnTheOthersPeerIDFromTheHandshake() async throws {
        let server = try await Server(try tls(Self.serverIdentity))
        defer { Task { await server.stop() } }
        let connector = Connector(connectTimeout: .seconds(10), idleTimeout: .seconds(60), transport: try tls(Self.clientIdentity))
        let (identities, _) = try await handshake(connector, to: server.listener.boundAddress,
                                                  expecting: Self.serverIdentity.peerID)
        #expect(identities == TransportIdentities(local: Self.clientIdentity.peerID, remote: Self.serverIdentity.peerID))
        try await waitUntil { server.seenClients == [Self.clientIdentity.peerID] }
    }

    @Test func aPeerWhoseCertificateIsNotForThePinnedIDIsRefused() async throws {
        let server = try await Server(try tls(Self.serverIdentity))
        defer { Task { await server.stop() } }
        let connector = Connector(connectTimeout: .seconds(10), idleTimeout: .seconds(60), transport: try tls(Self.clientIdentity))
        let endpoint = server.listener.boundAddress
        await #expect(throws: SessionError.identityMismatch(endpoint, expected: Self.relayIdentity.peerID,
                                                            presented: Self.serverIdentity.peerID)) {
            _ = try await handshake(connector, to: endpoint, expecting: Self.relayIdentity.peerID)
        }
        // Nothing was sent: the server never saw a HELLO.
        #expect(server.seenClients.isEmpty)
    }

    @Test func aTLSClientMeetingAPlainServerSaysSo() async throws {
        let server = try await Server(.off)
        defer { Task { await server.stop() } }
        let endpoint = server.listener.boundAddress
        await #expect(throws: SessionError.serverWithoutTLS(endpoint)) {
            _ = try await handshake(Connector(connectTimeout: .seconds(10), idleTimeout: .seconds(60), transport: try tls(Self.clientIdentity)), to: endpoint)
        }
    }

    @Test func aPlainClientMeetingATLSServerIsToldToTurnTLSOn() async throws {
        let server = try await Server(try tls(Self.serverIdentity))
        defer { Task { await server.stop() } }
        do {
            _ = try await handshake(Connector(connectTimeout: .seconds(10), idleTimeout: .seconds(60), transport: .off), to: server.listener.boundAddress)
            Issue.record("a plain client was served by a TLS server")
        } catch SessionError.remote(let e) {
            #expect(e.code == .tlsMismatch)
            #expect(e.message.contains("--tls on"))
        }
    }

    @Test func aMembersOnlyNetworkOverTLSTakesTheRightSecretAndRefusesAWrongOne() async throws {
        let secret = NetworkSecret(Array("right".utf8))
        let server = try await Server(try tls(Self.serverIdentity), secret: secret)
        defer { Task { await server.stop() } }
        let connector = Connector(connectTimeout: .seconds(10), idleTimeout: .seconds(60), transport: try tls(Self.clientIdentity))
        _ = try await handshake(connector, to: server.listener.boundAddress, secret: secret)
        await #expect(throws: SessionError.notMember) {
            _ = try await handshake(connector, to: server.listener.boundAddress, secret: NetworkSecret(Array("wrong".utf8)))
        }
    }

    @Test func proofsMadeForOneTLSBindingDoNotMatchAnother() {
        let secret = NetworkSecret(Array("right".utf8))
        let (c, s) = ([UInt8](repeating: 1, count: 16), [UInt8](repeating: 2, count: 16))
        let direct = NetworkSecret.Binding(server: Self.serverIdentity.peerID, client: Self.clientIdentity.peerID)
        // What each end of a relayed connection sees: the relay's id in place of the other end's.
        let clientSide = NetworkSecret.Binding(server: Self.relayIdentity.peerID, client: Self.clientIdentity.peerID)
        let serverSide = NetworkSecret.Binding(server: Self.serverIdentity.peerID, client: Self.relayIdentity.peerID)
        #expect(secret.clientProof(clientNonce: c, serverNonce: s, binding: clientSide)
                != secret.clientProof(clientNonce: c, serverNonce: s, binding: serverSide))
        #expect(secret.serverProof(clientNonce: c, serverNonce: s, binding: serverSide)
                != secret.serverProof(clientNonce: c, serverNonce: s, binding: clientSide))
        #expect(secret.clientProof(clientNonce: c, serverNonce: s, binding: direct)
                != secret.clientProof(clientNonce: c, serverNonce: s))
    }

    func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("condition never held"); return }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
