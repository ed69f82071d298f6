import Foundation
import Logging
import SonicCore
import SonicNet
import SonicSeed
import SonicSwarm
import SonicTestSupport
import Synchronization
import Testing

/// A swarm download from peers that hold only part of the content, in one process over
/// loopback: the real peer servers, the real engine.
@Suite(.timeLimit(.minutes(3)))
struct PartialHolderDownloadTests {
    static let pieceSize = 64 << 10
    static let pieceCount = 32

    struct Holder {
        var server: PeerServer
        var holding: PartialHolding
    }

    static func holder(of bytes: [UInt8], manifest: Manifest, pieces: some Sequence<Int>) async throws -> Holder {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(".holder-\(UUID()).sonic-part").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let holding = PartialHolding(manifest: manifest, path: path,
                                     verified: PieceBitfield(pieceCount: manifest.pieceCount, pieces: pieces),
                                     reader: { try ReadOnlyFile(path: path) })
        let partials = PartialHoldings()
        partials.add(holding)
        // Generous timeouts: the server shares the test process's threads with every other test.
        let listener = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(300), frameTimeout: .seconds(300),
                                               connections: .init(total: 8, perIP: 8))
        let server = try await PeerServer.bind(.init(listener: listener),
                                               library: SharedLibrary(), partials: partials, logger: Logger(label: "test"))
        return Holder(server: server, holding: holding)
    }

    /// Runs `download` while `servers` serve, then stops them.
    static func download(serving servers: [PeerServer],
                         _ download: @escaping @Sendable () async throws -> SwarmDownload.Report) async throws -> SwarmDownload.Report {
        try await withThrowingTaskGroup(of: SwarmDownload.Report?.self) { group in
            for server in servers { group.addTask { try await server.serve(); return nil } }
            group.addTask { try await download() }
            var report: SwarmDownload.Report?
            while report == nil, let next = try await group.next() { report = next }
            group.cancelAll()
            return try #require(report)
        }
    }

    /// Generous: these servers share the test process's threads with every other test.
    static let settings = SwarmDownload.Settings(peerTimeout: .seconds(60))

    @Test func aHaveMakesTheLastPieceRequestable() async throws {
        let bytes = SeededBytes.bytes(count: Self.pieceCount * Self.pieceSize, seed: 11)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Self.pieceSize)
        // The only peer lacks the last piece: the download can only finish through a HAVE.
        let peer = try await Self.holder(of: bytes, manifest: manifest, pieces: 0..<(Self.pieceCount - 1))
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("partial-swarm-\(UUID()).bin").path
        defer {
            for path in [target, peer.holding.path] { try? FileManager.default.removeItem(atPath: path) }
        }
        let addresses = [peer.server.boundAddress]
        let everyOtherPiece = UInt64((Self.pieceCount - 1) * Self.pieceSize)
        let report = try await Self.download(serving: [peer.server]) {
            try await SwarmDownload.run(contentID: manifest.contentID, peers: addresses,
                                        partialHolders: Set(addresses), targetPath: target,
                                        settings: Self.settings, logger: Logger(label: "test")) { progress in
                // Everything it held has arrived: now it verifies the last piece.
                if progress.verifiedBytes >= everyOtherPiece { peer.holding.verified(Self.pieceCount - 1) }
            }
        }
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
        #expect(report.peers.map(\.pieces) == [Self.pieceCount])
        // It was never asked for the last piece before its HAVE.
        #expect(!(report.peers[0].lastError ?? "").contains("not held"), "\(report.peers[0].lastError ?? "")")
    }

    @Test func aHolderFoundDuringTheDownloadIsConnected() async throws {
        let bytes = SeededBytes.bytes(count: Self.pieceCount * Self.pieceSize, seed: 13)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Self.pieceSize)
        // The first peer holds the first half only; the second half is found later.
        let first = try await Self.holder(of: bytes, manifest: manifest, pieces: 0..<(Self.pieceCount / 2))
        let later = try await Self.holder(of: bytes, manifest: manifest, pieces: (Self.pieceCount / 2)..<Self.pieceCount)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("partial-swarm-\(UUID()).bin").path
        defer {
            for path in [target, first.holding.path, later.holding.path] { try? FileManager.default.removeItem(atPath: path) }
        }
        let both = [first.server.boundAddress, later.server.boundAddress]
        var settings = Self.settings
        settings.discoveryInterval = .milliseconds(50)
        settings.discover = { SwarmDownload.Holders(partial: both) }
        let report = try await Self.download(serving: [first.server, later.server]) { [settings] in
            try await SwarmDownload.run(contentID: manifest.contentID, peers: [both[0]],
                                        partialHolders: Set(both), targetPath: target,
                                        settings: settings, logger: Logger(label: "test"))
        }
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
        // Each peer once (the first one is not connected again), each with its half.
        #expect(report.peers.map(\.endpoint) == both)
        #expect(report.peers.map(\.pieces) == [Self.pieceCount / 2, Self.pieceCount / 2])
    }

    @Test func aPartialHolderServingWrongBytesIsBannedAndTheFileIsStillRight() async throws {
        let bytes = SeededBytes.bytes(count: Self.pieceCount * Self.pieceSize, seed: 14)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Self.pieceSize)
        var forged = bytes
        for i in stride(from: 0, to: forged.count, by: 4096) { forged[i] ^= 0xFF }
        // It claims every piece, and every one is wrong; the honest peer holds them all too.
        let liar = try await Self.holder(of: forged, manifest: manifest, pieces: 0..<Self.pieceCount)
        let honest = try await Self.holder(of: bytes, manifest: manifest, pieces: 0..<Self.pieceCount)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("partial-swarm-\(UUID()).bin").path
        defer {
            for path in [target, liar.holding.path, honest.holding.path] { try? FileManager.default.removeItem(atPath: path) }
        }
        let both = [liar.server.boundAddress, honest.server.boundAddress]
        let report = try await Self.download(serving: [liar.server, honest.server]) {
            try await SwarmDownload.run(contentID: manifest.contentID, peers: both,
                                        partialHolders: Set(both), targetPath: target,
                                        settings: Self.settings, logger: Logger(label: "test"))
        }
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
        #expect(report.peers[0].banned && report.peers[0].pieces == 0)
        #expect(!report.peers[1].banned && report.peers[1].pieces == Self.pieceCount)
    }

    @Test func aResumedDownloadOffersItsVerifiedPiecesAtOnce() async throws {
        let bytes = SeededBytes.bytes(count: Self.pieceCount * Self.pieceSize, seed: 15)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Self.pieceSize)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("resumed-\(UUID()).bin").path
        // An earlier run left the first half verified.
        var partial = bytes
        for i in (bytes.count / 2)..<bytes.count { partial[i] = 0 }
        try Data(partial).write(to: URL(fileURLWithPath: PartialFile.partialPath(for: target)))
        let half = PieceBitfield(pieceCount: Self.pieceCount, pieces: 0..<(Self.pieceCount / 2))
        try ResumeRecord(contentID: manifest.contentID, verified: half).save(to: ResumeRecord.path(for: target))
        // The peer lacks the last piece until the first progress report: the download cannot
        // end before the test has looked at what it offers.
        let peer = try await Self.holder(of: bytes, manifest: manifest, pieces: 0..<(Self.pieceCount - 1))
        defer {
            for path in [target, peer.holding.path] { try? FileManager.default.removeItem(atPath: path) }
        }
        let serving = PartialHoldings()
        var settings = Self.settings
        settings.serving = serving
        let offered = FirstOffer()
        let addresses = [peer.server.boundAddress]
        let report = try await Self.download(serving: [peer.server]) { [settings] in
            try await SwarmDownload.run(contentID: manifest.contentID, peers: addresses,
                                        partialHolders: Set(addresses), targetPath: target, settings: settings,
                                        logger: Logger(label: "test")) { _ in
                // What the download offers others while it runs.
                offered.value.withLock { $0 = $0 ?? serving.holding(for: manifest.contentID)?.holdings }
                peer.holding.verified(Self.pieceCount - 1)
            }
        }
        #expect(report.reusedPieces == Self.pieceCount / 2)
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
        // The resumed half was offered from the start (more may have verified by then).
        let first = try #require(offered.value.withLock { $0 })
        #expect(half.pieces.allSatisfy(first.contains))
        // And nothing is offered once the file is complete.
        #expect(serving.holding(for: manifest.contentID) == nil)
    }

    @Test func aPeerIsNeverAskedForAPieceItDoesNotHold() async throws {
        let bytes = SeededBytes.bytes(count: Self.pieceCount * Self.pieceSize, seed: 12)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Self.pieceSize)
        let even = try await Self.holder(of: bytes, manifest: manifest, pieces: stride(from: 0, to: Self.pieceCount, by: 2))
        let odd = try await Self.holder(of: bytes, manifest: manifest, pieces: stride(from: 1, to: Self.pieceCount, by: 2))
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("partial-swarm-\(UUID()).bin").path
        defer {
            for path in [target, even.holding.path, odd.holding.path] { try? FileManager.default.removeItem(atPath: path) }
        }
        let peers = [even.server.boundAddress, odd.server.boundAddress]
        let report = try await Self.download(serving: [even.server, odd.server]) {
            try await SwarmDownload.run(contentID: manifest.contentID, peers: peers,
                                        partialHolders: Set(peers), targetPath: target,
                                        settings: Self.settings, logger: Logger(label: "test"))
        }
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
        // Each delivered exactly its half, and was never refused a range ("not held").
        for peer in report.peers {
            #expect(peer.pieces == Self.pieceCount / 2, "\(peer.endpoint): \(peer.pieces) pieces")
            #expect(!(peer.lastError ?? "").contains("not held"), "\(peer.lastError ?? "")")
            #expect(!peer.banned)
        }
    }
}

/// What a download offered other peers at its first progress report.
private final class FirstOffer: Sendable {
    let value = Mutex<PieceBitfield?>(nil)
}
