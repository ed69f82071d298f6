/// Rules for the names under which files are shared.
///
/// A shared name is the file's path relative to the shared folder, with `/` between
/// components. It must never reach outside that folder: no empty, `.` or `..` component,
/// no leading `/`, no NUL, no backslash-free trickery is needed since only `/` separates.
/// No control character either (C0, DEL, C1: ``TerminalText/isControl(_:)``): a name is
/// printed on terminals, and one carrying escape sequences or a newline could rewrite them.
public enum SharedName {
    /// Longest name accepted anywhere (bytes of UTF-8), as on common file systems' PATH_MAX.
    public static let maximumLength = 4096

    /// True when `name` is a safe relative path inside a shared folder.
    public static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maximumLength else { return false }
        // Checked on UTF-8 bytes, as the file system splits paths: split by Character, a "/"
        // followed by a combining mark is one grapheme cluster, not a separator, and
        // "../\u{301}x" or "/\u{301}etc" would pass. One pass, no allocation: the index checks
        // every name of every REGISTER.
        if let safe = name.utf8.withContiguousStorageIfAvailable(isSafe) { return safe }
        return Array(name.utf8).withUnsafeBufferPointer(isSafe)
    }

    private static func isSafe(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var length = 0, dots = 0  // of the component so far
        var afterC2 = false
        for byte in utf8 {
            // Controls (TerminalText.isControl): C0 and DEL are single bytes; C1 (U+0080–U+009F)
            // is 0xC2 followed by 0x80–0x9F.
            if byte < 0x20 || byte == 0x7F || (afterC2 && byte <= 0x9F) { return false }
            afterC2 = byte == 0xC2
            if byte == slash {
                // An empty component (a leading or doubled slash), ".", or "..".
                if length == dots && length <= 2 { return false }
                (length, dots) = (0, 0)
            } else {
                length += 1
                if byte == dot { dots += 1 }
            }
        }
        return !(length == dots && length <= 2)
    }

    /// The last path component: what a download is saved as by default.
    public static func baseName(_ name: String) -> String {
        // Split on bytes like ``isSafe(_:)``: a "/" that starts a grapheme cluster still separates.
        guard let last = name.utf8.split(separator: UInt8(ascii: "/")).last else { return name }
        return String(decoding: last, as: UTF8.self)
    }
}
