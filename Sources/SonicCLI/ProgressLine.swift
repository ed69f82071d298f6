import SonicCore

/// The live progress line a terminal shows during a download, redrawn in place
/// (`\r` + clear to end of line), like curl or aria2.
public enum ProgressLine {
    public static func render(done: UInt64, total: UInt64, bytesPerSecond: Double, peers: Int) -> String {
        let percent = total == 0 ? 100 : Double(done) / Double(total) * 100
        let rate = ByteCount.format(bytesPerSecond) + "/s"
        var eta = "--:--"
        if bytesPerSecond > 0, done < total {
            eta = clock(Double(total - done) / bytesPerSecond)
        }
        return "\(formatFixed(percent, decimals: 1))%  \(ByteCount(done))/\(ByteCount(total))  \(rate)  ETA \(eta)  peers \(peers)"
    }

    /// Draws `line` over the previous one on standard error.
    public static func draw(_ line: String) {
        Console.redraw(line)
    }

    public static func clear() {
        Console.redraw("")
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(two(m)):\(two(sec))"
    }
}
