import Foundation
import SonicCore
@testable import SonicSwarm
import SonicTestSupport
import Testing

/// How a download's connections meet its start: the first correct manifest wins, wrong ones
/// are refused, and connections that end before the start are neither lost nor forgotten.
@Suite(.timeLimit(.minutes(1)))
struct SwarmStartTests {
    static let bytes = SeededBytes.bytes(count: 4 * 4096, seed: 31)
    static let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: 4096)
    static let peers = (0..<3).map { Endpoint(host: "127.0.0.1", port: 7100 + $0) }

    static func start(connections: Int = 3, expectedSize: UInt64? = nil) -> SwarmStart {
        SwarmStart(contentID: manifest.contentID, expectedSize: expectedSize, connections: connections)
    }

    @Test func theFirstManifestThatMatchesTheContentIDIsTheDownloads() async throws {
        let start = Self.start()
        let other = ManifestBuilder.manifest(of: SeededBytes.bytes(count: 4096, seed: 32), pieceSize: 4096)
        #expect(throws: SwarmStart.ManifestRejected.self) { try start.offer(other.canonicalEncoding, from: Self.peers[0]) }
        #expect(throws: SwarmStart.ManifestRejected.self) { try start.offer([1, 2, 3], from: Self.peers[0]) }
        #expect(!start.manifestKnown)
        try start.offer(Self.manifest.canonicalEncoding, from: Self.peers[1])
        #expect(start.manifestKnown)
        #expect(try await start.manifest() == Self.manifest)
    }

    @Test func aManifestOfAnotherSizeThanTheIndexGaveIsRefused() {
        let start = Self.start(expectedSize: Self.manifest.fileSize + 1)
        #expect(throws: SwarmStart.ManifestRejected.self) {
            try start.offer(Self.manifest.canonicalEncoding, from: Self.peers[0])
        }
        #expect(!start.manifestKnown)
    }

    @Test func whenEveryConnectionEndsWithoutAManifestTheWaitFailsNamingEach() async throws {
        let start = Self.start(connections: 2)
        async let waited = start.manifest()
        start.connectionEnded(0, endpoint: Self.peers[0], reason: "refused")
        start.connectionEnded(1, endpoint: Self.peers[1], reason: nil)
        do {
            _ = try await waited
            Issue.record("a manifest was returned")
        } catch let missing as SwarmDownload.NoManifest {
            #expect(missing.attempts.map(\.0) == Array(Self.peers.prefix(2)))
            #expect(missing.description.contains("refused"))
        }
        // Asked again later: the same answer at once.
        await #expect(throws: SwarmDownload.NoManifest.self) { try await start.manifest() }
    }

    @Test func waitingForTheManifestStopsWhenCancelled() async {
        let start = Self.start()
        let waiting = Task { try await start.manifest() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }

    @Test func connectionsWaitForTheStartAndTheEngineHearsOfThoseThatEndedBefore() async throws {
        let start = Self.start()
        try start.offer(Self.manifest.canonicalEncoding, from: Self.peers[0])
        let waiting = Task { await start.context() }
        start.connectionEnded(2, endpoint: Self.peers[2], reason: "connection refused")
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-start-\(UUID())").path
        let file = try PartialFile(targetPath: target, size: Self.manifest.fileSize)
        defer { file.discard() }
        let engine = SwarmEngine(manifest: Self.manifest, peers: Self.peers, alreadyVerified: [], settings: .init())
        let context = SwarmStart.Context(engine: engine, file: file, writers: PieceWriters(file: file),
                                         wholeFile: WholeFileHasher(manifest: Self.manifest), serving: nil)
        start.begin(context)
        #expect(await waiting.value?.engine === engine)
        #expect(engine.snapshot().peers[2].lastError == "connection refused")
        // After the start, an ending goes to the engine directly.
        start.connectionEnded(1, endpoint: Self.peers[1], reason: "reset")
        #expect(engine.snapshot().peers[1].lastError == "reset")
        #expect(await start.context()?.engine === engine)
    }

    /// A connection whose other half failed stops waiting at once: its ending is what may
    /// fail the download, so it cannot wait for the download to fail first.
    @Test func waitingForTheStartStopsWhenCancelled() async {
        let start = Self.start()
        let waiting = Task { await start.context() }
        waiting.cancel()
        #expect(await waiting.value == nil)
        let cancelledFirst = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await start.context()
        }
        #expect(await cancelledFirst.value == nil)
    }

    @Test func anAbandonedStartReleasesTheConnectionsWaiting() async {
        let start = Self.start()
        let waiting = Task { await start.context() }
        start.abandon()
        #expect(await waiting.value == nil)
        #expect(await start.context() == nil)
    }
}
