import Foundation
import NIOSSL
import SonicCore
@testable import SonicNet
import Testing

@Suite struct IdentityTests {
    func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-identity-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func theFirstStartCreatesAPrivateFileAndLaterStartsReuseIt() throws {
        let folder = try temporaryFolder() + "/state"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try PeerIdentity.loadOrCreate(inDirectory: folder)
        let path = folder + "/" + PeerIdentity.fileName
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try PeerIdentity.loadOrCreate(inDirectory: folder)
        #expect(again.peerID == first.peerID)
        #expect(again.certificateDER == first.certificateDER)
        #expect(try PeerIdentity.loadOrCreate(inDirectory: try temporaryFolder()).peerID != first.peerID)
    }

    @Test func programsStartingTogetherEndUpWithOneIdentity() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ids = try await withThrowingTaskGroup(of: PeerID.self) { group in
            for _ in 0..<8 { group.addTask { try PeerIdentity.loadOrCreate(inDirectory: folder).peerID } }
            return try await group.reduce(into: Set<PeerID>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
    }

    @Test func thePeerIDIsTheHashOfTheKeyTheCertificateCarries() throws {
        let identity = try PeerIdentity.generate()
        let certificate = try NIOSSLCertificate(bytes: identity.certificateDER, format: .der)
        let spki = try certificate.extractPublicKey().toSPKIBytes()
        #expect(PeerID(publicKeyDER: spki) == identity.peerID)
    }

    @Test func aDamagedIdentityFileIsAnErrorNamingIt() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/" + PeerIdentity.fileName
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: IdentityError.self) { try PeerIdentity.loadOrCreate(inDirectory: folder) }
    }

    @Test func aKeyFiledWithAnotherKeysCertificateIsRefused() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (mine, other) = (try PeerIdentity.generate(), try PeerIdentity.generate())
        let path = folder + "/" + PeerIdentity.fileName
        try Data(mine.pem.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try PeerIdentity.load(path: path).peerID == mine.peerID)
        // Mine with the other's certificate: each file is its key, then its certificate.
        let certificateStart = "-----BEGIN CERTIFICATE-----"
        let mixed = mine.pem.components(separatedBy: certificateStart)[0]
            + certificateStart + other.pem.components(separatedBy: certificateStart)[1]
        try Data(mixed.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: IdentityError.self) { try PeerIdentity.load(path: path) }
        #expect(error?.reason == "its certificate is not for its key")
    }
}

@Suite struct IndexTrustTests {
    let a = PeerID(SHA256Hash.of([1]))
    let b = PeerID(SHA256Hash.of([2]))
    let index = Endpoint(host: "127.0.0.1", port: 5015)

    @Test func theKnownIndexesFileIsReadLineByLineAndTheFirstLineCounts() {
        let text = "# comment\n127.0.0.1:5015 \(a)\n\n127.0.0.1:5015 \(b)\n[::1]:5016 \(b)\ngarbage\n"
        let known = KnownIndexes(text: text)
        #expect(known.entries.count == 3)
        #expect(known.verdict(for: index, presented: a) == .known)
        #expect(known.verdict(for: index, presented: b) == .changed(known: a, line: 2))
        #expect(known.verdict(for: Endpoint(host: "::1", port: 5016), presented: b) == .known)
        #expect(known.verdict(for: Endpoint(host: "127.0.0.1", port: 1), presented: b) == .firstUse)
    }

    @Test func aFirstMeetingIsRememberedAndAChangedIdentityIsRefusedNamingTheFileAndLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-trust-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let trust = IndexTrust(knownIndexesPath: folder + "/" + IndexTrust.fileName)
        try trust.check(index, presented: a)
        try trust.check(index, presented: a)
        let text = try String(contentsOfFile: folder + "/" + IndexTrust.fileName, encoding: .utf8)
        #expect(text.contains("127.0.0.1:5015 \(a)"))
        #expect(KnownIndexes(text: text).entries.count == 1)
        do {
            try trust.check(index, presented: b)
            Issue.record("a changed identity was accepted")
        } catch let changed as IndexIdentityChanged {
            #expect(changed.known == a && changed.presented == b)
            #expect(changed.description.contains(folder + "/" + IndexTrust.fileName))
            #expect(changed.description.contains("line \(changed.line)"))
        }
    }

    @Test func aPinnedIndexIsNotRemembered() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-trust-\(UUID().uuidString.prefix(8))").path
        let trust = IndexTrust(pins: [index: a], knownIndexesPath: folder + "/" + IndexTrust.fileName)
        try trust.check(index, presented: a)
        #expect(!FileManager.default.fileExists(atPath: folder))
    }
}
