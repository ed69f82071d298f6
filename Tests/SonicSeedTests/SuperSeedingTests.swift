import Foundation
import Logging
import NIOCore
import SonicCore
import SonicNet
import SonicSeed
import SonicTestSupport
import SonicWire
import Testing

/// A seeder offering a complete file to downloaders that trade pieces, over real loopback
/// connections: the first is offered everything while it is alone, then (like the next) a few
/// pieces, more as it requests or acquires them, and everything once it is the last one left.
@Suite(.timeLimit(.minutes(3)))
struct SuperSeedingTests {
    static let pieceSize = 64 << 10
    static let pieceCount = 16

    @Test func tradersAreOfferedAFewPiecesAtATimeAndTheLastOneEverything() async throws {
        let bytes = SeededBytes.bytes(count: Self.pieceCount * Self.pieceSize, seed: 21)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("super-seed-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("file.bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Self.pieceSize)
        let id = manifest.contentID
        let library = SharedLibrary()
        library.replaceAll([SharedEntry(name: "file.bin", location: SharedLocation(root: folder.path, relativePath: "file.bin"),
                                        status: try FileStatus.of(path: path), manifest: manifest, compressible: false)])
        // Generous timeouts: the server shares the test process's threads with every other test.
        let listener = ServerListener.Settings(host: "127.0.0.1", port: 0, idleTimeout: .seconds(300), frameTimeout: .seconds(300),
                                               connections: .init(total: 8, perIP: 8))
        let server = try await PeerServer.bind(.init(listener: listener), library: library, logger: Logger(label: "test"))
        let all = PieceBitfield(pieceCount: Self.pieceCount, pieces: 0..<Self.pieceCount)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let connector = Connector(connectTimeout: .seconds(60), idleTimeout: nil)
            let first = try await connector.connect(to: server.boundAddress)
            try await first.executeThenClose { firstIn, firstOut in
                var a = FrameSession(inbound: firstIn, outbound: firstOut)
                _ = try await a.clientHandshake(Hello(role: .client, listenPort: 7001, features: [.swarm], agent: "a"))
                try await a.send(.manifestRequest(id))
                #expect(try await a.receive() == .manifest(id, manifest.canonicalEncoding))
                #expect(try await a.receive() == .bitfield(id, all), "a trader alone is offered everything")

                let second = try await connector.connect(to: server.boundAddress)
                try await second.executeThenClose { secondIn, secondOut in
                    var b = FrameSession(inbound: secondIn, outbound: secondOut)
                    _ = try await b.clientHandshake(Hello(role: .client, listenPort: 7002, features: [.swarm], agent: "b"))
                    try await b.send(.manifestRequest(id))
                    _ = try await b.receive()
                    guard case .bitfield(_, let offered) = try await b.receive() else { Issue.record("no BITFIELD"); return }
                    #expect(offered.pieces.count == 4, "\(offered.pieces)")
                    var seen = Set(offered.pieces)
                    // The first, no longer alone, is offered a few other pieces instead of everything.
                    guard case .bitfield(_, let window) = try await a.receive() else { Issue.record("no new BITFIELD"); return }
                    #expect(window.pieces.count == 4 && Set(window.pieces).isDisjoint(with: offered.pieces))

                    // A request for an offered piece brings one more offer.
                    let piece = offered.pieces[0]
                    try await b.send(.obtainRange(RangeRequest(requestID: 1, contentID: id, offset: UInt64(piece * Self.pieceSize),
                                                               length: UInt64(Self.pieceSize))))
                    var newOffers: [Int] = []
                    var received = 0
                    var ended = false
                    while !ended || newOffers.isEmpty {
                        switch try await b.receive() {
                        case .data(let block): received += block.payload.readableBytes
                        case .have(_, let offer): newOffers.append(Int(offer))
                        case .end: ended = true
                        case let other: Issue.record("unexpected \(other)"); return
                        }
                    }
                    #expect(received == Self.pieceSize)
                    #expect(newOffers.count == 1 && !seen.contains(newOffers[0]), "\(newOffers) after \(seen)")
                    seen.formUnion(newOffers)
                    // A piece acquired elsewhere (its HAVE) brings one more too.
                    try await b.send(.have(id, piece: UInt32(offered.pieces[1])))
                    guard case .have(_, let next) = try await b.receive() else { Issue.record("no new offer"); return }
                    #expect(!seen.contains(Int(next)))

                    // The other trader leaves: this one is offered everything.
                    try await a.send(.exit)
                    var last: Message?
                    repeat { last = try await b.receive() } while last?.kind == .have
                    #expect(last == .bitfield(id, all))
                }
            }
            group.cancelAll()
        }
    }
}
