/// A number of bytes, written by people as `20MiB`, `500KiB`, `1.5GB` or `4096`.
///
/// One rule, case-insensitive: a unit with an `i` (KiB, MiB, GiB, TiB) or a bare letter (K, M,
/// G, T, as curl and aria2 read them) is a power of 1024; a unit with `B` alone (KB, MB, GB,
/// TB) is a power of 1000, as SI says. A rate may end in `/s`. Whitespace between the number
/// and the unit is allowed. A value is rounded to whole bytes; one below a byte is refused.
public struct ByteCount: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: UInt64

    public init(_ bytes: UInt64) { self.bytes = bytes }

    public static func < (lhs: ByteCount, rhs: ByteCount) -> Bool { lhs.bytes < rhs.bytes }

    private static let units: [(suffix: String, factor: Double)] = [
        ("tib", 1_099_511_627_776), ("gib", 1_073_741_824), ("mib", 1_048_576), ("kib", 1024),
        ("tb", 1e12), ("gb", 1e9), ("mb", 1e6), ("kb", 1e3),
        ("t", 1_099_511_627_776), ("g", 1_073_741_824), ("m", 1_048_576), ("k", 1024),
        ("b", 1),
    ]

    /// Parses `20MiB`, `1.5 GB`, `4096`; nil for anything else (negative, empty, unknown unit).
    public init?(parsing text: String) {
        var s = text.trimmingWhitespace().lowercased()
        // Rates are often written with a per-second suffix; accept and ignore it.
        for suffix in ["/s", "ps"] where s.hasSuffix(suffix) && s.count > suffix.count {
            s.removeLast(suffix.count)
        }
        var factor: Double = 1
        for unit in Self.units where s.hasSuffix(unit.suffix) {
            factor = unit.factor
            s.removeLast(unit.suffix.count)
            break
        }
        s = s.trimmingWhitespace()
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(s), value >= 0
        else { return nil }
        let exact = value * factor
        guard exact == 0 || exact >= 1 else { return nil }
        let total = exact.rounded()
        guard total < 1.8e19 else { return nil }
        self.bytes = UInt64(total)
    }

    /// `1.5 MiB`-style text with binary units.
    public var description: String { Self.format(Double(bytes)) }

    public static func format(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = value
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        if i == 0 { return "\(Int(v)) B" }
        return "\(formatFixed(v, decimals: v < 10 ? 2 : 1)) \(units[i])"
    }
}

/// `value` with a fixed number of decimals, without Foundation's `String(format:)`.
public func formatFixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = UInt64(scaled / scale)
    let frac = UInt64(scaled - Double(whole) * scale)
    let sign = value < 0 && scaled > 0 ? "-" : ""
    guard decimals > 0 else { return "\(sign)\(whole)" }
    var fracText = String(frac)
    while fracText.count < decimals { fracText = "0" + fracText }
    return "\(sign)\(whole).\(fracText)"
}

/// A time span written as `15s`, `500ms`, `2m`, `1h`, `10 s` or a bare number of seconds.
public struct DurationText: Hashable, Sendable, CustomStringConvertible {
    public var duration: Duration

    public init(_ duration: Duration) { self.duration = duration }

    public init?(parsing text: String) {
        var s = text.trimmingWhitespace().lowercased()
        var factor = 1.0
        for (suffix, f) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where s.hasSuffix(suffix) {
            factor = f
            s.removeLast(suffix.count)
            break
        }
        s = s.trimmingWhitespace()
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(s), value >= 0, value * factor < 1e9
        else { return nil }
        self.duration = .milliseconds(Int64((value * factor * 1000).rounded()))
    }

    public var seconds: Double { duration.seconds }

    public var description: String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (newlines included).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
