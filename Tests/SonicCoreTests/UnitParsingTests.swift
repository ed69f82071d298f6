import Testing
import SonicCore

@Suite("ByteCount parsing")
struct ByteCountTests {
    @Test(arguments: [
        ("20MiB", 20_971_520),
        ("500KiB", 512_000),
        ("1.5GB", 1_500_000_000),
        ("4096", 4096),
        ("20MiB/s", 20_971_520),
        ("0", 0),
        ("1B", 1),
        ("2KB", 2000),
        ("3MB", 3_000_000),
        ("1GiB", 1_073_741_824),
        ("1TiB", 1_099_511_627_776),
        ("2TB", 2_000_000_000_000),
        ("1K", 1024),
        ("1M", 1_048_576),
        ("2G", 2_147_483_648),
        ("0.5KiB", 512),
        ("20mib", 20_971_520),
        (" 1.5 GB ", 1_500_000_000),
        ("10MBps", 10_000_000),
        ("1.5", 2),  // whole bytes, rounded
        // One rule: an "i" or a bare letter is binary, "B" alone is decimal (SI).
        ("20m", 20_971_520),
        ("20mb", 20_000_000),
        ("20mib", 20_971_520),
        ("20 MiB", 20_971_520),
    ] as [(String, UInt64)])
    func parses(text: String, bytes: UInt64) {
        #expect(ByteCount(parsing: text) == ByteCount(bytes))
    }

    @Test(arguments: ["-1", "abc", "", " ", "12XB", "MiB", "1..5MB", ".", "1e3", "0x10", "5 MiB MiB", "/s",
                      "1,5MB", "+5", "20MiB/h", "99999999999TiB",
                      "0.5", "0.2B"])  // below one byte: not a size (was read as 1 byte)
    func rejects(text: String) {
        #expect(ByteCount(parsing: text) == nil)
    }

    @Test func describesWithBinaryUnits() {
        #expect(ByteCount(0).description == "0 B")
        #expect(ByteCount(1023).description == "1023 B")
        #expect(ByteCount(1536).description == "1.50 KiB")
        #expect(ByteCount(20_971_520).description == "20.0 MiB")
        #expect(ByteCount(1_073_741_824).description == "1.00 GiB")
        #expect(ByteCount(5 * 1_099_511_627_776 * 1024).description == "5120.0 TiB")
    }

    @Test func ordersBySize() {
        #expect(ByteCount(1) < ByteCount(2))
        #expect([ByteCount(3), ByteCount(1)].max() == ByteCount(3))
    }
}

@Suite("formatFixed")
struct FormatFixedTests {
    @Test(arguments: [
        (3.14159, 2, "3.14"),
        (3.14159, 0, "3"),
        (2.5, 3, "2.500"),
        (0.05, 1, "0.1"),
        (1.999, 2, "2.00"),
        (0.007, 2, "0.01"),
        (-1.25, 1, "-1.3"),
        (-0.001, 2, "0.00"),  // no "-0.00"
        (0, 2, "0.00"),
        (12345.678, 1, "12345.7"),
    ] as [(Double, Int, String)])
    func formats(value: Double, decimals: Int, text: String) {
        #expect(formatFixed(value, decimals: decimals) == text)
    }

    @Test func nonFiniteIsADash() {
        #expect(formatFixed(.nan, decimals: 2) == "-")
        #expect(formatFixed(.infinity, decimals: 2) == "-")
    }
}

@Suite("DurationText parsing")
struct DurationTextTests {
    @Test(arguments: [
        ("15s", Duration.seconds(15)),
        ("500ms", .milliseconds(500)),
        ("2m", .seconds(120)),
        ("3", .seconds(3)),
        ("1h", .seconds(3600)),
        ("1.5s", .milliseconds(1500)),
        ("0", .zero),
        (" 10S ", .seconds(10)),
        ("0.25m", .seconds(15)),
        ("10 s", .seconds(10)),  // a space before the unit, as sizes allow
        ("500 ms", .milliseconds(500)),
    ] as [(String, Duration)])
    func parses(text: String, duration: Duration) {
        #expect(DurationText(parsing: text)?.duration == duration)
    }

    @Test(arguments: ["", "-1", "abc", "s", "ms", "5x", "1d", "1..2s", "1e3s", "5 5s", "9999999999h"])
    func rejects(text: String) {
        #expect(DurationText(parsing: text) == nil)
    }

    @Test func describes() {
        #expect(DurationText(.seconds(15)).description == "15s")
        #expect(DurationText(.milliseconds(500)).description == "500ms")
        #expect(DurationText(.milliseconds(1500)).description == "1500ms")
        #expect(DurationText(parsing: "2m")?.seconds == 120)
    }
}
