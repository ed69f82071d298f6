import Foundation
import Logging
import NIOCore
import SonicCore
import SonicNet
import SonicSeed
import SonicTestSupport
import SonicWire
import Testing

/// A peer serving a download in progress (swarm feature) over a real loopback connection.
@Suite(.timeLimit(.minutes(3)))
struct PartialServingTests {
    static let pieceSize = 64 << 10

    /// Three pieces on disk, as a download writes them; which are verified is up to the test.
    static func partialFile() throws -> (bytes: [UInt8], manifest: Manifest, path: String) {
        let bytes = SeededBytes.bytes(count: 3 * pieceSize - 100, seed: 5)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(".partial-\(UUID()).sonic-part").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (bytes, ManifestBuilder.manifest(of: bytes, pieceSize: pieceSize), path)
    }

    /// Runs `body` against a server holding `holding` (and no complete file), as a client
    /// with `features`.
    static func converse(holding: PartialHolding, features: Features,
                         _ body: @escaping @Sendable (inout FrameSession) async throws -> Void) async throws {
        let partials = PartialHoldings()
        partials.add(holding)
        // Generous timeouts: the server shares the test process's threads with every other test.
        let listener = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(300), frameTimeout: .seconds(300),
                                               connections: .init(total: 8, perIP: 8))
        let server = try await PeerServer.bind(.init(listener: listener), library: SharedLibrary(), partials: partials,
                                               logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let channel = try await Connector(connectTimeout: .seconds(60), idleTimeout: nil).connect(to: server.boundAddress)
            try await channel.executeThenClose { inbound, outbound in
                var session = FrameSession(inbound: inbound, outbound: outbound)
                _ = try await session.clientHandshake(Hello(role: .client, features: features, agent: "test"))
                try await body(&session)
            }
            group.cancelAll()
        }
    }

    @Test func onlyVerifiedPiecesAreServedAndEachNewOneIsAnnounced() async throws {
        let (bytes, manifest, path) = try Self.partialFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let holding = PartialHolding(manifest: manifest, path: path,
                                     verified: PieceBitfield(pieceCount: 3, pieces: [0, 2]),
                                     reader: { try ReadOnlyFile(path: path) })
        let id = manifest.contentID
        try await Self.converse(holding: holding, features: [.swarm]) { session in
            try await session.send(.manifestRequest(id))
            #expect(try await session.receive() == .manifest(id, manifest.canonicalEncoding))
            #expect(try await session.receive() == .bitfield(id, PieceBitfield(pieceCount: 3, pieces: [0, 2])))

            // Piece 1 is not verified: a clear error for that request only.
            let piece1 = RangeRequest(requestID: 7, contentID: id, offset: UInt64(Self.pieceSize), length: 10)
            try await session.send(.obtainRange(piece1))
            guard case .error(let error) = try await session.receive() else { Issue.record("no ERROR"); return }
            #expect(error.code == .notHeld && error.requestID == 7)

            // The connection stays usable: piece 2 comes whole.
            let piece2Start = 2 * Self.pieceSize
            try await session.send(.obtainRange(RangeRequest(requestID: 8, contentID: id, offset: UInt64(piece2Start),
                                                             length: UInt64(bytes.count - piece2Start))))
            var received: [UInt8] = []
            while case .data(let block) = try await session.receive() {
                #expect(block.requestID == 8 && block.encoding == .raw)
                received += Array(block.payload.readableBytesView)
            }
            #expect(received == Array(bytes[piece2Start...]))

            // Piece 1 verifies: the connection hears of it, and may then have it.
            holding.verified(1)
            #expect(try await session.receive() == .have(id, piece: 1))
            try await session.send(.obtainRange(piece1))
            guard case .data(let block) = try await session.receive() else { Issue.record("no DATA"); return }
            #expect(Array(block.payload.readableBytesView) == Array(bytes[Self.pieceSize..<(Self.pieceSize + 10)]))
            #expect(try await session.receive() == .end(requestID: 7))
        }
    }

    @Test func aDownloaderWithoutTheSwarmFeatureIsNeverServedAPartialHolding() async throws {
        let (_, manifest, path) = try Self.partialFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let holding = PartialHolding(manifest: manifest, path: path, verified: PieceBitfield(pieceCount: 3, pieces: [0, 1, 2]),
                                     reader: { try ReadOnlyFile(path: path) })
        let id = manifest.contentID
        try await Self.converse(holding: holding, features: []) { session in
            try await session.send(.manifestRequest(id))
            guard case .error(let error) = try await session.receive() else { Issue.record("no ERROR"); return }
            #expect(error.code == .notFound)
            try await session.send(.obtainRange(RangeRequest(requestID: 1, contentID: id, offset: 0, length: 10)))
            guard case .error(let refusal) = try await session.receive() else { Issue.record("no ERROR"); return }
            #expect(refusal.code == .notFound && refusal.requestID == 1)
        }
    }
}
