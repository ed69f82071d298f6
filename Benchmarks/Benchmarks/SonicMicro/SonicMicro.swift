import Benchmark
import NIOCore
import SonicCompression
import SonicCore
import SonicIndex
import SonicSwarm
import SonicWire

/// Micro-benchmarks of the hot paths. Each iteration does one unit of work named in the
/// benchmark's title; throughput (#/s) × that unit gives bytes or decisions per second
/// (docs/PERFORMANCE.md).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 100_000
    )

    let block = 256 * 1024
    let text = Samples.text(block)
    let random = Samples.random(block)

    // MARK: Frames

    Benchmark("Frame encode: DATA 256 KiB") { benchmark in
        let payload = random
        for _ in benchmark.scaledIterations {
            var out = ByteBuffer()
            out.writeFrame(.data(DataBlock(requestID: 1, encoding: .raw, rawLength: UInt32(block), payload: payload)))
            blackHole(out)
        }
    }

    Benchmark("Frame decode: DATA 256 KiB") { benchmark in
        var frame = ByteBuffer()
        frame.writeFrame(.data(DataBlock(requestID: 1, encoding: .raw, rawLength: UInt32(block), payload: random)))
        for _ in benchmark.scaledIterations {
            var input = frame
            var decoder = FrameDecoder()
            blackHole(try decoder.decode(buffer: &input))
        }
    }

    Benchmark("Frame round trip: RESULTS of 100 groups") { benchmark in
        let results = Samples.results(groups: 100, peersPerGroup: 4)
        for _ in benchmark.scaledIterations {
            var buffer = ByteBuffer()
            buffer.writeFrame(.searchResults(results))
            var decoder = FrameDecoder()
            blackHole(try decoder.decode(buffer: &buffer))
        }
    }

    // MARK: Compression

    for (name, data) in [("text", text), ("random", random)] {
        for level in [Int32(1), 6] {
            Benchmark("Deflate 256 KiB \(name), level \(level)") { benchmark in
                let codec = BlockCodec()
                for _ in benchmark.scaledIterations {
                    blackHole(codec.compress(data, level: level))
                }
            }
        }
    }

    // Random blocks never reach inflate: they are sent raw (see the deflate figures).
    for level in [Int32(1), 6] {
        Benchmark("Inflate 256 KiB text (level \(level) stream)") { benchmark in
            let codec = BlockCodec()
            let deflated = codec.compress(text, level: level)!
            var out = ByteBuffer()
            out.reserveCapacity(block)
            for _ in benchmark.scaledIterations {
                out.clear()
                try codec.decompress(deflated, rawLength: block, into: &out)
                blackHole(out)
            }
        }
    }

    // MARK: Hashing

    Benchmark("SHA-256 of a 1 MiB piece") { benchmark in
        let piece = Samples.random(1 << 20)
        for _ in benchmark.scaledIterations {
            piece.withUnsafeReadableBytes { blackHole(SHA256Hash.of($0)) }
        }
    }

    Benchmark("SHA-256 of 8 MiB through ManifestBuilder (piece + whole file: 16 MiB hashed)") { benchmark in
        let bytes = Array(Samples.random(8 << 20).readableBytesView)
        for _ in benchmark.scaledIterations {
            blackHole(ManifestBuilder.manifest(of: bytes))
        }
    }

    // MARK: Scheduler

    for homes in [false, true] {
        Benchmark("Scheduler: 16384 pieces, 32 peers\(homes ? " with piece homes" : "") (one iteration = a whole download's decisions)",
                  configuration: .init(maxIterations: 1000)) { benchmark in
            schedulerDownload(benchmark, homes: homes)
        }
    }

    // MARK: Index

    let populated = Samples.registry(sessions: 1000, filesPerSession: 100)

    Benchmark("Index search, exact, 100k files", configuration: .init(metrics: [.wallClock, .throughput])) { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(populated.search(SearchRequest(mode: .exact, query: "peer-\(i % 1000)/file-\(i % 100).dat")))
        }
    }

    Benchmark("Index search, keyword (100 matches), 100k files", configuration: .init(metrics: [.wallClock, .throughput])) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(populated.search(SearchRequest(mode: .keyword, query: "peer-42/")))
        }
    }

    Benchmark("Index search, keyword (10k matches, first page), 100k files",
              configuration: .init(metrics: [.wallClock, .throughput])) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(populated.search(SearchRequest(mode: .keyword, query: "file-9")))
        }
    }

    Benchmark("Index registration of 10k files", configuration: .init(maxIterations: 1000)) { benchmark in
        let files = Samples.files(session: 0, count: 10_000)
        for _ in benchmark.scaledIterations {
            var registry = IndexRegistry()
            registry.connect(1, address: Endpoint(host: "127.0.0.1", port: 6000))
            try registry.register(1, files: files)
            blackHole(registry)
        }
    }
}

enum Samples {
    static func text(_ count: Int) -> ByteBuffer {
        var s = ""
        var i = 0
        while s.utf8.count < count {
            s += "2026-11-24T12:\(i / 60 % 60):\(i % 60)Z INFO sonic.peer[\(i % 97)] served block \(i) in \(i % 977)us\n"
            i += 1
        }
        return ByteBuffer(bytes: Array(s.utf8.prefix(count)))
    }

    static func random(_ count: Int) -> ByteBuffer {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[i] = UInt8(truncatingIfNeeded: state)
        }
        return ByteBuffer(bytes: bytes)
    }

    static func files(session: Int, count: Int) -> [SharedFile] {
        (0..<count).map { j in
            let id = ContentID(SHA256Hash.of(Array("\(session)/\(j)".utf8)))
            return SharedFile(name: "peer-\(session)/file-\(j).dat", size: UInt64(j), contentID: id, fileHash: id.hash)
        }
    }

    static func registry(sessions: Int, filesPerSession: Int) -> IndexRegistry {
        var registry = IndexRegistry()
        for s in 0..<sessions {
            registry.connect(UInt64(s), address: Endpoint(host: "127.0.0.1", port: 10_000 + s))
            try! registry.register(UInt64(s), files: files(session: s, count: filesPerSession))
        }
        return registry
    }

    static func results(groups: Int, peersPerGroup: Int) -> SearchResults {
        SearchResults(total: UInt32(groups), results: (0..<groups).map { g in
            let id = ContentID(SHA256Hash.of(Array("\(g)".utf8)))
            return SearchResult(contentID: id, size: UInt64(g), fileHash: id.hash, names: ["folder/file \(g).dat"],
                                peers: (0..<peersPerGroup).map { Endpoint(host: "127.0.0.1", port: 6000 + $0) })
        })
    }
}

/// One whole download's scheduling decisions: 16 384 pieces, 32 peers asking in turn.
private func schedulerDownload(_ benchmark: Benchmark, homes: Bool) {
    let origin = ContinuousClock.now
    for _ in benchmark.scaledIterations {
        var scheduler = PieceScheduler(pieceCount: 16_384)
        for peer in 0..<32 {
            scheduler.addPeer(peer)
            if homes { scheduler.setAffinity(UInt64(peer) &* 0x9E37_79B9_7F4A_7C15 &+ 1, of: peer) }
        }
        var peer = 0
        var decisions = 0
        while !scheduler.isComplete {
            if let assignment = scheduler.nextPiece(for: peer, now: origin) {
                scheduler.pieceVerified(assignment.piece, by: peer)
                decisions += 2
            }
            peer = (peer + 1) % 32
        }
        blackHole(decisions)
    }
}
