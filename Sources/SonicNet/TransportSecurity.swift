import NIOCore
import NIOSSL
import SonicCore

/// Whether a program's connections run TLS (`--tls on|off`), and with which identity.
///
/// Both sides of a connection must agree: a TLS program that meets a plain one says so in one
/// line on both sides (docs/PROTOCOL.md, "TLS"); there is no fallback from one to the other.
public enum TransportSecurity: Sendable {
    /// Plain TCP: for trusted labs and benchmarks only (docs/SECURITY.md).
    case off
    /// TLS 1.3, presenting this identity's certificate, on every connection in both directions.
    case tls(TLSCredentials)

    /// TLS with `identity`.
    public static func tls(_ identity: PeerIdentity) throws -> TransportSecurity {
        .tls(try TLSCredentials(identity: identity))
    }

    /// Our own peer id (nil with TLS off).
    public var localPeerID: PeerID? {
        if case .tls(let credentials) = self { return credentials.identity.peerID }
        return nil
    }

    public var isOn: Bool { localPeerID != nil }
}

/// An identity with the TLS contexts built from it once (building one parses the key and
/// certificate; every connection then shares it).
public final class TLSCredentials: Sendable {
    public let identity: PeerIdentity
    let serverContext: NIOSSLContext
    let clientContext: NIOSSLContext

    static let shutdownTimeout = TimeAmount.milliseconds(250)

    public init(identity: PeerIdentity) throws {
        self.identity = identity
        let (certificate, key) = try identity.sslMaterial()
        var server = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)],
                                                              privateKey: .privateKey(key))
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = [.certificate(certificate)]
        client.privateKey = .privateKey(key)
        server.minimumTLSVersion = .tlsv13
        client.minimumTLSVersion = .tlsv13
        // Both sides present a certificate and both must: a peer's identity is the hash of the
        // key it proves it holds. The certificates are self-signed, so the chain check is ours
        // (``TLSCredentials/acceptAnyCertificate``): the peer id is compared with a pin after
        // the handshake, never against a certificate authority.
        server.certificateVerification = .noHostnameVerification
        client.certificateVerification = .noHostnameVerification
        // No certificate authority is consulted, so none is loaded: the default would parse
        // the system's whole CA bundle into each context at every program start.
        server.trustRoots = .certificates([])
        client.trustRoots = .certificates([])
        // Closing waits this long at most for the other side's close_notify. Nothing here
        // depends on it (a conversation ends with EXIT or ERROR, and every byte is checked
        // against a hash), and a busy peer that is slow to read it held every connection's
        // close, and so a finished sonic-get's exit, for the default five seconds. A client
        // does not wait at all: its close_notify leaves, then the connection closes, so the
        // index search before a download and the sessions closed at its end cost no round
        // trip.
        server.shutdownTimeout = Self.shutdownTimeout
        client.shutdownTimeout = .zero
        serverContext = try NIOSSLContext(configuration: server)
        clientContext = try NIOSSLContext(configuration: client)
    }

    /// Replaces certificate-authority validation: any certificate is accepted here, and the
    /// peer id of its key is checked against the pin by the code that asked for the connection
    /// (``Connector``, the index's trust store). TLS itself still proves that the other side
    /// holds the key (its CertificateVerify signature over the handshake).
    static func acceptAnyCertificate(_ chain: [NIOSSLCertificate], _ promise: EventLoopPromise<NIOSSLVerificationResult>) {
        promise.succeed(.certificateVerified)
    }

    func makeServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: serverContext, customVerificationCallback: Self.acceptAnyCertificate)
    }

    func makeClientHandler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: clientContext, serverHostname: nil,
                                customVerificationCallback: Self.acceptAnyCertificate)
    }
}

/// Both ends of a TLS connection, as the TLS handshake proved them.
public struct TransportIdentities: Sendable, Equatable {
    /// Ours.
    public var local: PeerID
    /// The other side's: the hash of the key its certificate carries.
    public var remote: PeerID

    public init(local: PeerID, remote: PeerID) {
        self.local = local
        self.remote = remote
    }
}
