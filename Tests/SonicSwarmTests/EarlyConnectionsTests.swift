import Foundation
import Logging
import NIOCore
import SonicCore
import SonicNet
import SonicSeed
import SonicSwarm
import SonicTestSupport
import Testing

/// Connections opened while the manifest is fetched carry the download, and those nobody
/// takes are closed.
@Suite(.timeLimit(.minutes(3)))
struct EarlyConnectionsTests {
    /// Generous: these servers share the test process's threads with every other test.
    static let listener = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(300),
                                                  frameTimeout: .seconds(300), connections: .init(total: 1, perIP: 1))
    static let settings = SwarmDownload.Settings(peerTimeout: .seconds(60))

    @Test func theDownloadUsesTheConnectionOpenedEarly() async throws {
        let bytes = SeededBytes.bytes(count: 16 * (64 << 10), seed: 21)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: 64 << 10)
        let source = FileManager.default.temporaryDirectory.appendingPathComponent(".early-\(UUID()).sonic-part").path
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("early-\(UUID()).bin").path
        defer { for path in [source, target] { try? FileManager.default.removeItem(atPath: path) } }
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        let partials = PartialHoldings()
        partials.add(PartialHolding(manifest: manifest, path: source,
                                    verified: PieceBitfield(pieceCount: manifest.pieceCount, pieces: 0..<manifest.pieceCount),
                                    reader: { try ReadOnlyFile(path: source) }))
        // One connection at a time: a second one, opened beside the early one, would be refused.
        let server = try await PeerServer.bind(.init(listener: Self.listener), library: SharedLibrary(), partials: partials,
                                               logger: Logger(label: "test"))
        let peers = [server.boundAddress]
        let early = EarlyConnections(to: peers, settings: Self.settings)
        let report = try await PartialHolderDownloadTests.download(serving: [server]) {
            try await SwarmDownload.run(contentID: manifest.contentID, manifest: manifest, peers: peers,
                                        partialHolders: Set(peers), targetPath: target, early: early,
                                        settings: Self.settings, logger: Logger(label: "test"))
        }
        #expect(early.untaken.isEmpty)
        await early.close()
        #expect(FileManager.default.contents(atPath: target) == Data(bytes))
        #expect(report.peers.map(\.pieces) == [manifest.pieceCount])
        #expect(report.peers.allSatisfy { $0.lastError == nil }, "\(report.peers.map(\.lastError))")
    }

    @Test func connectionsNobodyTookAreClosed() async throws {
        let server = try await ServerListener.bind(Self.listener)
        let (events, event) = AsyncStream<String>.makeStream()
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.serve { channel in
                    event.yield("accepted")
                    // Reads until the other side closes.
                    try? await channel.executeThenClose { inbound, _ in for try await _ in inbound {} }
                    event.yield("closed")
                }
            }
            let early = EarlyConnections(to: [server.boundAddress, server.boundAddress], settings: Self.settings)
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == "accepted")
            #expect(early.untaken == [server.boundAddress])
            await early.close()
            #expect(early.untaken.isEmpty)
            #expect(await iterator.next() == "closed")
            group.cancelAll()
        }
    }
}
