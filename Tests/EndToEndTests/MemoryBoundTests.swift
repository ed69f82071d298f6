import Foundation
import SonicCore
import SonicTestSupport
import SonicWire
import Testing

/// Memory follows blocks, not pieces: a download of one 64 MiB piece (the largest piece a
/// manifest may have) never holds the piece in memory.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MemoryBoundTests {
    @Test func aSixtyFourMiBPieceIsWrittenThroughNotBuffered() async throws {
        let pieceSize = Manifest.maximumPieceSize
        let bytes = SeededBytes.bytes(count: pieceSize, seed: 64)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: pieceSize)
        #expect(manifest.pieceCount == 1)
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        let net = try await TestNetwork()
        try await net.run {
            let peer = try await FakePeer(network: net, file: SharedFile(name: "one-piece.bin", manifest: manifest),
                conversation: FakePeer.serving(manifest, bytes))
            defer { peer.stop() }
            _ = try await net.waitForSearch(["one-piece.bin"], until: { !$0.isEmpty })
            let get = try Program("sonic-get", ["one-piece.bin", "--json", "--index", net.indexAddress.description],
                                  environment: net.environment, directory: out)
            var peak = 0.0
            while get.process.isRunning {
                peak = max(peak, Double(get.peakResidentBytes) / 1_048_576)
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("one-piece.bin")) == SHA256Hash.of(bytes).hex)
            // Buffering the piece whole would take 64 MiB on top of the program itself.
            #expect(peak > 0 && peak < 64, "peak resident memory \(peak) MiB")
            print("memory: one 64 MiB piece downloaded with a peak of \(formatFixed(peak, decimals: 1)) MiB resident")
        }
    }
}
