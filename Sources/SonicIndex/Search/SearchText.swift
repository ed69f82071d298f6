import Foundation

/// How names and queries are compared in keyword search: both are *folded* to UTF-8 bytes
/// in which case and accents no longer matter, and a query word matches a name when its
/// folded bytes occur anywhere in the name's folded bytes (docs/PROTOCOL.md, "Search").
///
/// Folding is compatibility decomposition (NFKD: `é` → `e` + combining accent, `ﬁ` → `fi`,
/// full-width `Ａ` → `A`), then dropping the nonspacing marks (the accents), then Unicode
/// lowercasing. So `resume` finds `Résumé.pdf`, and `ÜNÏ` finds `ünïcødé.txt`. Letters that
/// are not a base letter plus a mark (`ø`, `ł`, `ß`) stay themselves.
public enum SearchText {
    /// The folded UTF-8 bytes of `text`. Pure ASCII, the common case, is only lowercased.
    public static func fold(_ text: some StringProtocol) -> [UInt8] {
        var folded: [UInt8] = []
        folded.reserveCapacity(text.utf8.count)
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for byte in text.utf8 { folded.append(lowercased(byte)) }
            return folded
        }
        for scalar in String(text).decomposedStringWithCompatibilityMapping.unicodeScalars {
            if scalar.isASCII {
                folded.append(lowercased(UInt8(scalar.value)))
            } else if scalar.properties.generalCategory != .nonspacingMark {
                folded.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
            }
        }
        return folded
    }

    /// The folded words of a keyword query: split on whitespace, words that fold to nothing
    /// (a lone accent) dropped. No words means the query matches every name.
    public static func words(of query: String) -> [[UInt8]] {
        query.split(whereSeparator: \.isWhitespace).map { fold($0) }.filter { !$0.isEmpty }
    }

    /// The folding of one byte of an ASCII name (its lowercase).
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
    }

    /// Calls `body` with each trigram (three consecutive bytes, packed into the low 24 bits)
    /// of `bytes`, in order, repeats included.
    static func forEachTrigram(of bytes: some Collection<UInt8>, _ body: (UInt32) -> Void) {
        var key: UInt32 = 0
        for (i, byte) in bytes.enumerated() {
            key = (key << 8 | UInt32(byte)) & 0xFF_FFFF
            if i >= 2 { body(key) }
        }
    }

    /// True when `needle` occurs in `haystack`, or with `lowercasing`, in the ASCII
    /// lowercasing of `haystack` (which is the folding of an ASCII name).
    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8], lowercasing: Bool = false) -> Bool {
        if lowercasing { return contains(haystack, needle, map: lowercased) }
        return contains(haystack, needle, map: { $0 })
    }

    @inline(__always)
    private static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8], map: (UInt8) -> UInt8) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= haystack.count else { return false }
        return needle.withUnsafeBufferPointer { n in
            let first = n[0]
            var i = 0
            let last = haystack.count - n.count
            while i <= last {
                if map(haystack[i]) == first {
                    var j = 1
                    while j < n.count && map(haystack[i + j]) == n[j] { j += 1 }
                    if j == n.count { return true }
                }
                i += 1
            }
            return false
        }
    }
}
