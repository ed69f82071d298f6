import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import NIOSSL
import SonicCore
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// A program's key pair and self-signed certificate, kept in its state dir and presented in
/// every TLS handshake. Its ``peerID`` is what other programs pin (docs/SECURITY.md).
///
/// The certificate is self-signed: nobody checks it against a certificate authority. What
/// a peer proves in the handshake is that it holds the private key whose public key hashes
/// to its peer id.
public struct PeerIdentity: Sendable {
    public let peerID: PeerID
    public let privateKey: P256.Signing.PrivateKey
    /// The certificate in DER.
    public let certificateDER: [UInt8]

    /// The file in a state dir that holds the key and certificate (PEM, mode 0600).
    public static let fileName = "identity.pem"

    /// A new key pair and a self-signed certificate for it (valid for 100 years: the peer id,
    /// not the certificate's dates, is what is checked).
    public static func generate() throws -> PeerIdentity {
        let key = P256.Signing.PrivateKey()
        let id = PeerID(publicKeyDER: Array(key.publicKey.derRepresentation))
        let name = try DistinguishedName { CommonName("sonic-share \(id.short)") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(100 * 365 * 86400),
            issuer: name, subject: name,
            extensions: try Certificate.Extensions { Critical(BasicConstraints.notCertificateAuthority) },
            issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return PeerIdentity(peerID: id, privateKey: key, certificateDER: serializer.serializedBytes)
    }

    /// The identity kept in `directory`, created (with the folder) on first use.
    ///
    /// Creation is atomic: the file is written under a temporary name and linked into place,
    /// so programs starting together with one state dir all end up with the same identity.
    public static func loadOrCreate(inDirectory directory: String) throws -> PeerIdentity {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        if FileManager.default.fileExists(atPath: path) { return try load(path: path) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw IdentityError(path: path, reason: "cannot create the state dir (\(error))")
        }
        let identity = try generate()
        let temporary = path + ".\(getpid()).\(UInt32.random(in: 0 ... .max)).tmp"
        try write(identity.pem, to: temporary, finalPath: path)
        defer { unlink(temporary) }
        if link(temporary, path) != 0 {
            guard errno == EEXIST else { throw IdentityError(path: path, reason: String(cString: strerror(errno))) }
            // Another program with this state dir made one first: use that.
            return try load(path: path)
        }
        return identity
    }

    /// Reads an identity file written by ``loadOrCreate(inDirectory:)``.
    public static func load(path: String) throws -> PeerIdentity {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IdentityError(path: path, reason: "cannot read it")
        }
        do {
            let documents = try PEMDocument.parseMultiple(pemString: String(decoding: data, as: UTF8.self))
            guard let keyDocument = documents.first(where: { $0.discriminator == "PRIVATE KEY" }),
                  let certificateDocument = documents.first(where: { $0.discriminator == "CERTIFICATE" }) else {
                throw IdentityError(path: path, reason: "it needs a PRIVATE KEY and a CERTIFICATE")
            }
            let key = try P256.Signing.PrivateKey(derRepresentation: keyDocument.derBytes)
            let publicKeyDER = Array(key.publicKey.derRepresentation)
            // BoringSSL reads the certificate's key: the Swift X.509 parser's first use costs
            // every program start about 0.3 ms of CPU (docs/PERFORMANCE.md, "Small files").
            let certificate = try NIOSSLCertificate(bytes: certificateDocument.derBytes, format: .der)
            guard try certificate.extractPublicKey().toSPKIBytes() == publicKeyDER else {
                throw IdentityError(path: path, reason: "its certificate is not for its key")
            }
            return PeerIdentity(peerID: PeerID(publicKeyDER: publicKeyDER), privateKey: key,
                                certificateDER: certificateDocument.derBytes)
        } catch let error as IdentityError {
            throw error
        } catch {
            throw IdentityError(path: path, reason: "not a key and certificate (\(error)); move it away to make a new identity")
        }
    }

    /// The key and the certificate, PEM.
    var pem: String {
        privateKey.pemRepresentation + "\n" + PEMDocument(type: "CERTIFICATE", derBytes: certificateDER).pemString + "\n"
    }

    private static func write(_ text: String, to temporary: String, finalPath: String) throws {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IdentityError(path: finalPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        do {
            try Array(text.utf8).withUnsafeBytes { try PositionalIO.writeAll(fd, $0, path: finalPath) }
        } catch let error as FileError {
            throw IdentityError(path: finalPath, reason: error.message)
        }
        guard fsync(fd) == 0 else { throw IdentityError(path: finalPath, reason: String(cString: strerror(errno))) }
    }

    /// The NIOSSL forms of the certificate and key, for a TLS configuration.
    func sslMaterial() throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        (try NIOSSLCertificate(bytes: certificateDER, format: .der),
         try NIOSSLPrivateKey(bytes: Array(privateKey.derRepresentation), format: .der))
    }
}

/// The identity file cannot be made or read.
public struct IdentityError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "identity file \(path): \(reason)" }
}

extension PeerID {
    /// The peer id of the key in a certificate presented in a TLS handshake.
    init(certificate: NIOSSLCertificate) throws {
        self.init(publicKeyDER: try certificate.extractPublicKey().toSPKIBytes())
    }
}
