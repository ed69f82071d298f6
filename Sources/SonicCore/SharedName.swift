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
        // "../\u{301}x" or "/\u{301}etc" would pass.
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard name.utf8.first != slash, !name.unicodeScalars.contains(where: TerminalText.isControl) else { return false }
        for component in name.utf8.split(separator: slash, omittingEmptySubsequences: false) {
            if component.isEmpty || component.elementsEqual([dot]) || component.elementsEqual([dot, dot]) {
                return false
            }
        }
        return true
    }

    /// The last path component: what a download is saved as by default.
    public static func baseName(_ name: String) -> String {
        // Split on bytes like ``isSafe(_:)``: a "/" that starts a grapheme cluster still separates.
        guard let last = name.utf8.split(separator: UInt8(ascii: "/")).last else { return name }
        return String(decoding: last, as: UTF8.self)
    }
}
