import SonicCore

#if canImport(Glibc)
import Glibc
#endif

/// The live progress line a terminal shows during a download, redrawn in place
/// (`\r` + clear to end of line), like curl or aria2.
public enum ProgressLine {
    public struct Status: Sendable, Equatable {
        public var name: String
        /// Bytes of the file on disk or on their way: verified pieces plus the received part of
        /// pieces in flight (so progress moves within a piece on a slow link).
        public var done: UInt64
        public var total: UInt64
        /// Recent rate of this run's bytes (resumed pieces are not counted).
        public var bytesPerSecond: Double
        public var peers: Int

        public init(name: String, done: UInt64, total: UInt64, bytesPerSecond: Double, peers: Int) {
            self.name = name
            self.done = done
            self.total = total
            self.bytesPerSecond = bytesPerSecond
            self.peers = peers
        }
    }

    /// The line for `status` in at most `width` columns. The name shrinks first (cut in the
    /// middle), then the least useful fields go: peers, the byte counts, the rate.
    public static func render(_ status: Status, width: Int) -> String {
        let percent = status.total == 0 ? 100 : min(100, Double(status.done) / Double(status.total) * 100)
        var eta = "--:--"
        if status.bytesPerSecond > 0, status.done < status.total {
            eta = clock(Double(status.total - status.done) / status.bytesPerSecond)
        }
        let fields = [
            "\(formatFixed(percent, decimals: 1))%",
            "\(ByteCount(status.done))/\(ByteCount(status.total))",
            ByteCount.format(status.bytesPerSecond) + "/s",
            "ETA \(eta)",
            "peers \(status.peers)",
        ]
        // Dropped in this order when even a short name does not fit.
        let dropOrder = [4, 1, 2]
        let minimumName = 8
        for dropped in 0...dropOrder.count {
            let kept = fields.enumerated().filter { !dropOrder.prefix(dropped).contains($0.offset) }.map(\.element)
            let rest = kept.joined(separator: "  ")
            let room = width - rest.count - 2
            if room >= minimumName { return TerminalText.shortened(status.name, toColumns: room) + "  " + rest }
            if dropped == dropOrder.count { return String(rest.prefix(max(0, width))) }
        }
        return ""
    }

    /// Draws `line` over the previous one on standard error.
    public static func draw(_ line: String) {
        Console.redraw(line)
    }

    public static func clear() {
        Console.redraw("")
    }

    /// Columns of the terminal on standard error, read at each redraw so a resize takes
    /// effect at once; `$COLUMNS` or 80 when the system does not say. One column is left
    /// free: writing into the last one wraps on some terminals.
    public static func terminalWidth(of descriptor: Int32 = STDERR_FILENO) -> Int {
        var size = winsize()
        if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) - 1 }
        if let columns = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }), columns > 0 { return columns - 1 }
        return 79
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(two(m)):\(two(sec))"
    }
}

/// The rate over the last few seconds, from (time, bytes) samples: an average since the
/// start hides a stall or a speed-up for minutes.
public struct RecentRate: Sendable {
    public let window: Duration
    private var samples: [(at: Duration, bytes: UInt64)] = []

    public init(window: Duration = .seconds(3)) {
        self.window = window
    }

    /// Adds the byte count at `elapsed` and returns bytes per second over the window.
    public mutating func add(bytes: UInt64, at elapsed: Duration) -> Double {
        samples.append((elapsed, bytes))
        while let first = samples.first, elapsed - first.at > window, samples.count > 2 { samples.removeFirst() }
        guard let first = samples.first, let last = samples.last, last.at > first.at, last.bytes >= first.bytes else { return 0 }
        return Double(last.bytes - first.bytes) / (last.at - first.at).seconds
    }
}
