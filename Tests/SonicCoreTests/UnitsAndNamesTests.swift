import SonicCore
import Testing

@Suite struct UnitsAndNamesTests {
    @Test func byteCounts() {
        #expect(ByteCount(parsing: "20MiB")?.bytes == 20 * 1_048_576)
        #expect(ByteCount(parsing: "500KiB")?.bytes == 512_000)
        #expect(ByteCount(parsing: "1.5GB")?.bytes == 1_500_000_000)
        #expect(ByteCount(parsing: "4096")?.bytes == 4096)
        #expect(ByteCount(parsing: "20MiB/s")?.bytes == 20 * 1_048_576)
        #expect(ByteCount(parsing: " 2 m ")?.bytes == 2 * 1_048_576)
        #expect(ByteCount(parsing: "256mib")?.bytes == 256 * 1_048_576)
        for bad in ["-1", "abc", "", "12XB", "MiB", "1e3", "1,5MB"] {
            #expect(ByteCount(parsing: bad) == nil, "\(bad)")
        }
        #expect(ByteCount(1536).description == "1.50 KiB")
        #expect(ByteCount(0).description == "0 B")
        #expect(ByteCount(20 * 1_048_576).description == "20.0 MiB")
    }

    @Test func durations() {
        #expect(DurationText(parsing: "15s")?.duration == .seconds(15))
        #expect(DurationText(parsing: "500ms")?.duration == .milliseconds(500))
        #expect(DurationText(parsing: "2m")?.duration == .seconds(120))
        #expect(DurationText(parsing: "3")?.duration == .seconds(3))
        #expect(DurationText(parsing: "1.5s")?.duration == .milliseconds(1500))
        #expect(DurationText(parsing: "-2s") == nil)
        #expect(DurationText(parsing: "soon") == nil)
        #expect(DurationText(.milliseconds(500)).description == "500ms")
    }

    @Test func endpoints() {
        #expect(Endpoint(parsing: "127.0.0.1:5015") == Endpoint(host: "127.0.0.1", port: 5015))
        #expect(Endpoint(parsing: "[::1]:80") == Endpoint(host: "::1", port: 80))
        #expect(Endpoint(parsing: "localhost", defaultPort: 5015) == Endpoint(host: "localhost", port: 5015))
        #expect(Endpoint(parsing: "localhost") == nil)
        #expect(Endpoint.parseList("a:1, b:2") == [Endpoint(host: "a", port: 1), Endpoint(host: "b", port: 2)])
        for bad in [":80", "host:99999", "host:x", "[::1", "[::1]x"] {
            #expect(Endpoint(parsing: bad) == nil, "\(bad)")
        }
        #expect(Endpoint.parseList("a:1,:2") == nil)
        #expect(Endpoint.parseList("") == nil)
        #expect(Endpoint(host: "::1", port: 80).description == "[::1]:80")
    }

    @Test func sharedNames() {
        for ok in ["a b/c:d.txt", "ünïcødé.txt", "x", "a/b/c", "..hidden-ish", "a..b"] {
            #expect(SharedName.isSafe(ok), "\(ok)")
        }
        for bad in ["../x", "a/../b", "/etc/passwd", "a//b", "./a", "", "a/", "a\u{0}b", "..", "."] {
            #expect(!SharedName.isSafe(bad), "\(bad.debugDescription)")
        }
        #expect(!SharedName.isSafe(String(repeating: "a", count: SharedName.maximumLength + 1)))
        #expect(SharedName.baseName("a/b/c d.txt") == "c d.txt")
        #expect(SharedName.baseName("x") == "x")
    }

    @Test func fixedDecimals() {
        #expect(formatFixed(3.14159, decimals: 2) == "3.14")
        #expect(formatFixed(0.5, decimals: 0) == "1" || formatFixed(0.5, decimals: 0) == "0")
        #expect(formatFixed(-2.05, decimals: 1) == "-2.1" || formatFixed(-2.05, decimals: 1) == "-2.0")
        #expect(formatFixed(99.999, decimals: 1) == "100.0")
        #expect(formatFixed(1.007, decimals: 2) == "1.01")
    }
}
