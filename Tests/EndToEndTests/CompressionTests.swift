import SonicTestSupport
import Foundation
import SonicCore
import Testing

/// Blocks travel deflated where that helps and raw where it does not; wire bytes say which.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CompressionTests {
    static func logText(_ count: Int) -> [UInt8] {
        var s = ""
        var i = 0
        while s.utf8.count < count {
            s += "2026-11-24T12:\(i / 60 % 60):\(i % 60)Z INFO sonic.peer[\(i % 97)] served block \(i) in \(i % 977)us\n"
            i += 1
        }
        return Array(s.utf8.prefix(count))
    }

    @Test func textMovesWellUnderItsSizeAndRandomAtMostOnePercentOver() async throws {
        let text = Self.logText(8 << 20)
        let random = Harness.randomBytes(count: 8 << 20, seed: 21)
        let folder = try Harness.temporaryDirectory("mixed")
        let out = try Harness.temporaryDirectory("get")
        try Data(text).write(to: folder.appendingPathComponent("app.log"))
        try Data(random).write(to: folder.appendingPathComponent("noise.bin"))
        let net = try await TestNetwork()
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch([], until: { $0.count == 2 })

            let (s1, j1, p1) = try await net.get("app.log", [], directory: out)
            #expect(s1 == 0, "stderr: \(p1.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("app.log")) == SHA256Hash.of(text).hex)
            let textWire = try #require(j1?["wire_bytes"] as? Int)
            #expect(textWire < text.count * 40 / 100, "log text took \(textWire) wire bytes for \(text.count)")

            let (s2, j2, p2) = try await net.get("noise.bin", [], directory: out)
            #expect(s2 == 0, "stderr: \(p2.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("noise.bin")) == SHA256Hash.of(random).hex)
            let randomWire = try #require(j2?["wire_bytes"] as? Int)
            #expect(randomWire >= random.count)
            #expect(randomWire <= random.count * 101 / 100, "random took \(randomWire) wire bytes for \(random.count)")

            // A downloader that refuses deflate gets raw blocks: wire bytes ≈ file size.
            let (s3, j3, p3) = try await net.get("app.log", ["--compress", "never", "-o", "raw.log"], directory: out)
            #expect(s3 == 0, "stderr: \(p3.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("raw.log")) == SHA256Hash.of(text).hex)
            #expect((j3?["wire_bytes"] as? Int ?? 0) >= text.count)
        }
    }

    @Test func aSeederWithCompressNeverSendsRawBlocks() async throws {
        let text = Self.logText(2 << 20)
        let folder = try Harness.temporaryDirectory("plain")
        let out = try Harness.temporaryDirectory("get")
        try Data(text).write(to: folder.appendingPathComponent("plain.log"))
        let net = try await TestNetwork()
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: folder, extra: ["--compress", "never"])
            _ = try await net.waitForSearch([], until: { $0.count == 1 })
            let (status, json, program) = try await net.get("plain.log", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect((json?["wire_bytes"] as? Int ?? 0) >= text.count)
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("plain.log")) == SHA256Hash.of(text).hex)
        }
    }

    /// The second downloader of a text file gets every deflated block from the seeder's
    /// cache: the seeder logs a 50 % hit rate (all misses, then all hits) and the bytes match.
    @Test func aSecondDownloaderGetsDeflatedBlocksFromTheCache() async throws {
        let text = Self.logText(3 << 20)
        let folder = try Harness.temporaryDirectory("cached")
        let first = try Harness.temporaryDirectory("get")
        let second = try Harness.temporaryDirectory("get")
        try Data(text).write(to: folder.appendingPathComponent("app.log"))
        let net = try await TestNetwork()
        defer { [folder, first, second].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            let seeder = try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch(["app.log"], until: { !$0.isEmpty })
            for out in [first, second] {
                let (status, json, program) = try await net.get("app.log", [], directory: out)
                #expect(status == 0, "stderr: \(program.stderr)")
                #expect((json?["wire_bytes"] as? Int ?? .max) < text.count / 2)
                #expect(try Harness.sha256(ofFile: out.appendingPathComponent("app.log")) == SHA256Hash.of(text).hex)
            }
            await seeder.stop()
            // 3 MiB = 12 blocks of 256 KiB: 12 misses, then 12 hits.
            #expect(seeder.stderr.contains("block-cache-hits=50.0% of 24"), "\(seeder.stderr)")
        }
    }
}
