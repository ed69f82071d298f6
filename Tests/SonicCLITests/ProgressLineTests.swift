import SonicCLI
import SonicCore
import Testing

@Suite("Progress line")
struct ProgressLineTests {
    static let status = ProgressLine.Status(name: "holiday photos from the summer of 2026 (final).tar", done: 13 << 20,
                                            total: 40 << 20, bytesPerSecond: 3 * 1_048_576, peers: 4)

    @Test(arguments: [20, 30, 40, 60, 80, 120, 200])
    func neverWiderThanTheTerminal(width: Int) {
        let line = ProgressLine.render(Self.status, width: width)
        #expect(line.count <= width, "\(width): \(line)")
        #expect(line.contains("32.5%"), "the percentage always stays: \(line)")
    }

    @Test func wideTerminalsShowTheWholeNameAndEveryField() {
        let line = ProgressLine.render(Self.status, width: 200)
        #expect(line.hasPrefix(Self.status.name + "  "))
        for field in ["13.0 MiB/40.0 MiB", "3.00 MiB/s", "ETA 00:09", "peers 4"] {
            #expect(line.contains(field), "\(field) missing: \(line)")
        }
    }

    @Test func narrowTerminalsCutTheNameInTheMiddleThenDropFields() {
        let at60 = ProgressLine.render(Self.status, width: 60)
        #expect(at60.contains("…") && at60.contains(".tar"), "\(at60)")
        #expect(at60.contains("ETA"), "\(at60)")
        let at40 = ProgressLine.render(Self.status, width: 40)
        #expect(!at40.contains("peers"), "\(at40)")
        #expect(at40.contains("ETA 00:09"), "\(at40)")
    }

    @Test func controlCharactersInTheNameAreEscaped() {
        var status = Self.status
        status.name = "evil\u{1B}]0;x\u{07}"
        let line = ProgressLine.render(status, width: 200)
        #expect(!line.unicodeScalars.contains(where: TerminalText.isControl))
    }
}

@Suite("RecentRate")
struct RecentRateTests {
    @Test func measuresTheLastSecondsNotTheWholeRun() {
        var rate = RecentRate(window: .seconds(3))
        // 10 s at 1 MiB/s, then 4 s at 4 MiB/s.
        var bytes: UInt64 = 0
        var last = 0.0
        for second in 0...14 {
            if second > 0 { bytes += second <= 10 ? 1 << 20 : 4 << 20 }
            last = rate.add(bytes: bytes, at: .seconds(second))
        }
        #expect(last == 4 * 1_048_576, "\(last)")
    }

    @Test func aStallShowsAsZero() {
        var rate = RecentRate(window: .seconds(3))
        for second in 0...5 { _ = rate.add(bytes: UInt64(second) << 20, at: .seconds(second)) }
        var last = 1.0
        for second in 6...10 { last = rate.add(bytes: 5 << 20, at: .seconds(second)) }
        #expect(last == 0)
    }
}

@Suite("TerminalText.shortened")
struct ShortenedTests {
    @Test func keepsBothEnds() {
        #expect(TerminalText.shortened("abcdefghij.txt", toColumns: 9) == "abcd….txt")
        #expect(TerminalText.shortened("short", toColumns: 9) == "short")
        #expect(TerminalText.shortened("abc", toColumns: 1) == "a")
    }
}
