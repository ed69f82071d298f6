/// Text from the network or the file system made safe to print on a terminal.
///
/// A file name or an error text from another peer may carry control characters: `ESC ]`
/// retitles a terminal window, `ESC [2J` clears it, a newline forges a result row. Every
/// human-readable output passes through ``escaped(_:)``, which writes C0 controls, DEL and
/// C1 controls as visible `\u{…}` escapes and leaves everything else as it is.
public enum TerminalText {
    /// True for the Unicode scalars a terminal may act on: C0 (U+0000–U+001F), DEL (U+007F)
    /// and C1 (U+0080–U+009F).
    @inlinable
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `text` with every control scalar replaced by `\u{XX}`.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `text` (escaped) in at most `columns` characters, cut in the middle with `…` so both
    /// the start and the extension stay visible. Counts characters, which is exact for most
    /// names (wide CJK characters take two columns and may overflow a little).
    public static func shortened(_ text: String, toColumns columns: Int) -> String {
        let safe = escaped(text)
        guard safe.count > columns else { return safe }
        guard columns > 1 else { return String(safe.prefix(max(0, columns))) }
        let tail = (columns - 1) / 2
        let head = columns - 1 - tail
        return String(safe.prefix(head)) + "…" + String(safe.suffix(tail))
    }
}
