import Foundation
import NIOCore
import SonicCompression
import Testing

@Suite struct BlockCodecTests {
    static func text(_ count: Int) -> ByteBuffer {
        var line = 0
        var s = ""
        while s.utf8.count < count {
            s += "2026-11-24T12:00:\(line % 60)Z INFO peer \(line % 17) served block \(line) in \(line % 977)us\n"
            line += 1
        }
        return ByteBuffer(bytes: Array(s.utf8.prefix(count)))
    }

    static func random(_ count: Int, seed: UInt64 = 42) -> ByteBuffer {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return ByteBuffer(bytes: bytes)
    }

    @Test(arguments: [Int32(1), 6, 9])
    func textDeflatesSmallerAndRoundTrips(level: Int32) throws {
        let codec = BlockCodec()
        let raw = Self.text(256 * 1024)
        let deflated = try #require(codec.compress(raw, level: level))
        #expect(deflated.readableBytes < raw.readableBytes / 2)
        var out = ByteBuffer()
        try codec.decompress(deflated, rawLength: raw.readableBytes, into: &out)
        #expect(out == raw)
    }

    @Test func theCodecIsReusableAcrossBlocksAndLevels() throws {
        let codec = BlockCodec()
        for (i, level) in [Int32(1), 1, 6, 1].enumerated() {
            let raw = Self.text(64 * 1024 + i * 999)
            let deflated = try #require(codec.compress(raw, level: level))
            var out = ByteBuffer()
            try codec.decompress(deflated, rawLength: raw.readableBytes, into: &out)
            #expect(out == raw)
        }
    }

    @Test func randomDataIsNotWorthDeflating() {
        #expect(BlockCodec().compress(Self.random(256 * 1024), level: 1) == nil)
        #expect(BlockCodec().compress(Self.random(256 * 1024), level: 9) == nil)
    }

    @Test func tinyBlocksStayRaw() {
        #expect(BlockCodec().compress(Self.text(BlockCodec.minimumBlockLength - 1), level: 1) == nil)
    }

    @Test func aCorruptStreamIsRejectedAndLeavesTheOutputUntouched() throws {
        let codec = BlockCodec()
        let raw = Self.text(32 * 1024)
        var deflated = try #require(codec.compress(raw, level: 1))
        deflated.setInteger(UInt8(0xff), at: deflated.readerIndex + deflated.readableBytes / 2)
        deflated.setInteger(UInt8(0x00), at: deflated.readerIndex + deflated.readableBytes / 2 + 1)
        var out = ByteBuffer(string: "kept")
        #expect(throws: BlockCodec.InflateError.self) {
            try codec.decompress(deflated, rawLength: raw.readableBytes, into: &out)
        }
        #expect(out == ByteBuffer(string: "kept"))
        // Garbage that is not zlib at all.
        #expect(throws: BlockCodec.InflateError.self) {
            try codec.decompress(ByteBuffer(bytes: [1, 2, 3, 4, 5]), rawLength: 100, into: &out)
        }
    }

    @Test func aBlockThatInflatesToMoreThanDeclaredIsRejected() throws {
        let codec = BlockCodec()
        let raw = Self.text(200 * 1024)
        let deflated = try #require(codec.compress(raw, level: 1))
        var out = ByteBuffer()
        #expect(throws: BlockCodec.InflateError.longerThanDeclared(100 * 1024)) {
            try codec.decompress(deflated, rawLength: 100 * 1024, into: &out)
        }
        #expect(out.readableBytes == 0)
        #expect(out.capacity <= 128 * 1024, "inflate allocated beyond the declared length")
    }

    @Test func aZipBombDeclaringLittleIsStoppedAtItsDeclaredLength() throws {
        // 256 KiB of zeros deflates to a few hundred bytes; declared as 1 KiB.
        let codec = BlockCodec()
        let zeros = ByteBuffer(repeating: 0, count: 256 * 1024)
        let bomb = try #require(codec.compress(zeros, level: 9))
        #expect(bomb.readableBytes < 1024)
        var out = ByteBuffer()
        #expect(throws: BlockCodec.InflateError.longerThanDeclared(1024)) {
            try codec.decompress(bomb, rawLength: 1024, into: &out)
        }
    }

    @Test func aBlockThatInflatesToLessThanDeclaredIsRejected() throws {
        let codec = BlockCodec()
        let raw = Self.text(64 * 1024)
        let deflated = try #require(codec.compress(raw, level: 1))
        var out = ByteBuffer()
        #expect(throws: BlockCodec.InflateError.shorterThanDeclared(declared: 65 * 1024, actual: 64 * 1024)) {
            try codec.decompress(deflated, rawLength: 65 * 1024, into: &out)
        }
        // A stream cut in half never reaches its end.
        let half = deflated.getSlice(at: deflated.readerIndex, length: deflated.readableBytes / 2)!
        #expect(throws: BlockCodec.InflateError.self) {
            try codec.decompress(half, rawLength: raw.readableBytes, into: &out)
        }
    }

    @Test func bytesAfterTheStreamAreRejected() throws {
        let codec = BlockCodec()
        let raw = Self.text(16 * 1024)
        var deflated = try #require(codec.compress(raw, level: 1))
        deflated.writeBytes([1, 2, 3])
        var out = ByteBuffer()
        #expect(throws: BlockCodec.InflateError.corrupt("trailing bytes after the stream")) {
            try codec.decompress(deflated, rawLength: raw.readableBytes, into: &out)
        }
        #expect(out.readableBytes == 0)
    }

    @Test func aDeclaredLengthAboveTheBlockLimitIsRejectedBeforeInflating() {
        var out = ByteBuffer()
        #expect(throws: BlockCodec.InflateError.declaredLengthTooLarge(256 * 1024 + 1, limit: 256 * 1024)) {
            try BlockCodec().decompress(ByteBuffer(bytes: [0x78, 0x01]), rawLength: 256 * 1024 + 1, into: &out)
        }
    }
}

@Suite struct CompressibilityProbeTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    func verdict(_ name: String) throws -> CompressibilityProbe.Verdict {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        let bytes = [UInt8](data)
        return CompressibilityProbe.probe(name: name, size: UInt64(bytes.count)) { offset, count in
            ByteBuffer(bytes: bytes[Int(offset)..<Int(offset) + count])
        }
    }

    @Test func theLogFixtureCompressesAndTheRandomOneDoesNot() throws {
        #expect(try verdict("server log.txt").isCompressible)
        let random = try verdict("random-1.5MiB.bin")
        #expect(!random.isCompressible)
        if case .incompressible(let ratio) = random { #expect(ratio > 0.97) } else { Issue.record("\(random)") }
    }

    @Test func knownCompressedExtensionsAreNotEvenRead() {
        for name in ["holiday.JPG", "a/b/c.mp4", "backup.tar.gz", "x.zst"] {
            let v = CompressibilityProbe.probe(name: name, size: 1 << 30) { _, _ in
                Issue.record("\(name) was read")
                return ByteBuffer()
            }
            #expect(v == .knownCompressedExtension, "\(name)")
        }
    }

    @Test func tinyFilesAreNotWorthIt() {
        #expect(CompressibilityProbe.probe(name: "a.txt", size: 10) { _, _ in ByteBuffer() } == .tooSmall)
    }
}

@Suite struct TokenBucketTests {
    let t0 = ContinuousClock.now

    @Test func aFullBucketLetsTheBurstThroughThenPaces() {
        var bucket = TokenBucket(bytesPerSecond: 1000, burst: 500, now: t0)
        #expect(bucket.reserve(500, now: t0) == .zero)
        // The next 1000 bytes need one second of tokens.
        #expect(bucket.reserve(1000, now: t0) == .seconds(1))
    }

    @Test func aLargeReservationGoesIntoDebtAndTheWaitRepaysIt() {
        var bucket = TokenBucket(bytesPerSecond: 1000, burst: 100, now: t0)
        let wait = bucket.reserve(2100, now: t0)
        #expect(wait == .seconds(2))
        // Once that wait has passed, the bucket is empty, not negative.
        #expect(bucket.reserve(0, now: t0 + .seconds(2)) == .zero)
        #expect(bucket.reserve(100, now: t0 + .seconds(2)) == .milliseconds(100))
    }

    @Test func theRateHoldsOverManyReservations() {
        // 10 MiB/s, 256 KiB blocks sent as soon as allowed, for 200 blocks.
        let rate = 10.0 * 1024 * 1024
        var bucket = TokenBucket(bytesPerSecond: rate, now: t0)
        var now = t0
        for _ in 0..<200 {
            now += bucket.reserve(256 * 1024, now: now)
        }
        let elapsed = (now - t0)
        let expected = Duration.milliseconds(Int64(200.0 * 256 * 1024 / rate * 1000))
        // Exactly the rate, less the initial burst (one 256 KiB block: 25 ms at 10 MiB/s).
        #expect(elapsed <= expected)
        #expect(elapsed >= expected - .milliseconds(30))
    }

    @Test func theDefaultBurstIsOneBlockSoACapIsNotBeatenAtTheStart() {
        var bucket = TokenBucket(bytesPerSecond: 1_048_576, now: t0)
        // Even after a long idle time, only one block passes at once.
        #expect(bucket.reserve(256 * 1024, now: t0 + .seconds(60)) == .zero)
        #expect(bucket.reserve(256 * 1024, now: t0 + .seconds(60)) == .milliseconds(250))
    }

    @Test func tokensDoNotAccumulateBeyondTheBurst() {
        var bucket = TokenBucket(bytesPerSecond: 1000, burst: 200, now: t0)
        // An hour idle still allows only the burst.
        #expect(bucket.reserve(200, now: t0 + .seconds(3600)) == .zero)
        #expect(bucket.reserve(100, now: t0 + .seconds(3600)) == .milliseconds(100))
    }
}
