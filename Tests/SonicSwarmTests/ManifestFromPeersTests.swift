import Foundation
import Logging
import NIOCore
import SonicCore
import SonicNet
import SonicSeed
import SonicSwarm
import SonicTestSupport
import SonicWire
import Testing

/// A download takes its manifest from its own connections: no connection of its own for the
/// manifest, a wrong manifest never believed, and a clear failure when no peer serves one.
@Suite(.timeLimit(.minutes(3)))
struct ManifestFromPeersTests {
    /// Generous: these servers share the test process's threads with every other test.
    static let listener = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(300),
                                                  frameTimeout: .seconds(300), connections: .init(total: 1, perIP: 1))
    static let settings = SwarmDownload.Settings(peerTimeout: .seconds(60))
    static let bytes = SeededBytes.bytes(count: 16 * (64 << 10), seed: 21)
    static let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: 64 << 10)

    static func targetPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID()).bin").path
    }

    /// A peer that welcomes (unless `welcomes` is false: silent from the start), then answers
    /// MANIFEST? with `answer` (nil: never answers).
    static func fakePeer(answering answer: [UInt8]?, welcomes: Bool = true) async throws -> (ServerListener, Task<Void, any Error>) {
        let server = try await ServerListener.bind(listener)
        let serving = Task {
            try await server.serve { channel in
                try? await channel.executeThenClose { inbound, outbound in
                    var session = FrameSession(inbound: inbound, outbound: outbound)
                    guard case .hello = try await session.receive() else { return }
                    guard welcomes else {
                        while true { _ = try await session.receive() }
                    }
                    try await session.send(.welcome(Welcome(sessionID: 1)))
                    while case .manifestRequest(let id) = try await session.receive() {
                        if let answer { try await session.send(.manifest(id, answer)) }
                    }
                }
            }
        }
        return (server, serving)
    }

    /// The forged manifest a liar serves: other bytes' hashes.
    static var forgedManifest: [UInt8] {
        ManifestBuilder.manifest(of: SeededBytes.bytes(count: bytes.count, seed: 22), pieceSize: 64 << 10).canonicalEncoding
    }

    @Test func oneConnectionCarriesTheManifestAndEveryPiece() async throws {
        let source = FileManager.default.temporaryDirectory.appendingPathComponent(".whole-\(UUID()).sonic-part").path
        let target = Self.targetPath()
        defer { for path in [source, target] { try? FileManager.default.removeItem(atPath: path) } }
        try Data(Self.bytes).write(to: URL(fileURLWithPath: source))
        let partials = PartialHoldings()
        partials.add(PartialHolding(manifest: Self.manifest, path: source,
                                    verified: PieceBitfield(pieceCount: Self.manifest.pieceCount, pieces: 0..<Self.manifest.pieceCount),
                                    reader: { try ReadOnlyFile(path: source) }))
        // One connection at a time: a second one, for the manifest alone, would be refused.
        let server = try await PeerServer.bind(.init(listener: Self.listener), library: SharedLibrary(), partials: partials,
                                               logger: Logger(label: "test"))
        let peers = [server.boundAddress]
        let report = try await PartialHolderDownloadTests.download(serving: [server]) {
            try await SwarmDownload.run(contentID: Self.manifest.contentID, expectedSize: UInt64(Self.bytes.count), peers: peers,
                                        partialHolders: Set(peers), targetPath: target,
                                        settings: Self.settings, logger: Logger(label: "test"))
        }
        #expect(FileManager.default.contents(atPath: target) == Data(Self.bytes))
        #expect(report.manifest == Self.manifest)
        #expect(report.peers.map(\.pieces) == [Self.manifest.pieceCount])
        #expect(report.peers.allSatisfy { $0.lastError == nil }, "\(report.peers.map(\.lastError))")
    }

    @Test func aPeerServingAnotherManifestIsDroppedAndTheOtherServesTheDownload() async throws {
        let (liar, lying) = try await Self.fakePeer(answering: Self.forgedManifest)
        defer { lying.cancel() }
        let honest = try await PartialHolderDownloadTests.holder(of: Self.bytes, manifest: Self.manifest,
                                                                 pieces: 0..<Self.manifest.pieceCount)
        let target = Self.targetPath()
        defer { for path in [target, honest.holding.path] { try? FileManager.default.removeItem(atPath: path) } }
        let peers = [liar.boundAddress, honest.server.boundAddress]
        let report = try await PartialHolderDownloadTests.download(serving: [honest.server]) {
            try await SwarmDownload.run(contentID: Self.manifest.contentID, peers: peers, targetPath: target,
                                        settings: Self.settings, logger: Logger(label: "test"))
        }
        #expect(FileManager.default.contents(atPath: target) == Data(Self.bytes))
        #expect(report.peers[0].pieces == 0)
        #expect(report.peers[0].lastError?.contains("does not match the content id") == true, "\(report.peers[0])")
        #expect(report.peers[1].pieces == Self.manifest.pieceCount)
    }

    @Test func withoutAManifestTheDownloadFailsNamingEachPeerAndWritesNothing() async throws {
        let (liar, lying) = try await Self.fakePeer(answering: Self.forgedManifest)
        let (silent, silence) = try await Self.fakePeer(answering: nil)
        let (mute, muteness) = try await Self.fakePeer(answering: nil, welcomes: false)
        defer { lying.cancel(); silence.cancel(); muteness.cancel() }
        let target = Self.targetPath()
        var settings = Self.settings
        // The silent peer owes the manifest, the mute one its WELCOME: each is dropped after
        // the peer timeout (long enough that the liar, on a loaded test machine, is heard first).
        settings.peerTimeout = .seconds(5)
        do {
            // With the size given, the partial file is made while the peers are asked: it goes again.
            _ = try await SwarmDownload.run(contentID: Self.manifest.contentID, expectedSize: UInt64(Self.bytes.count),
                                            peers: [liar.boundAddress, silent.boundAddress, mute.boundAddress],
                                            targetPath: target, settings: settings, logger: Logger(label: "test"))
            Issue.record("the download succeeded without a manifest")
        } catch let missing as SwarmDownload.NoManifest {
            #expect(Set(missing.attempts.map(\.0)) == [liar.boundAddress, silent.boundAddress, mute.boundAddress])
            let reasons = Dictionary(missing.attempts.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
            #expect(reasons[liar.boundAddress]?.contains("does not match the content id") == true, "\(missing)")
            #expect(reasons[silent.boundAddress]?.contains("no data for 5.0s") == true, "\(missing)")
            #expect(reasons[mute.boundAddress]?.contains("no data for 5.0s") == true, "\(missing)")
        }
        let folder = FileManager.default.temporaryDirectory.path
        let name = URL(fileURLWithPath: target).lastPathComponent
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(!FileManager.default.fileExists(atPath: folder + "/." + name + ".sonic-part"))
    }
}
