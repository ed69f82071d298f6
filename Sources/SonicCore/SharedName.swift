/// Rules for the names under which files are shared.
///
/// A shared name is the file's path relative to the shared folder, with `/` between
/// components. It must never reach outside that folder: no empty, `.` or `..` component,
/// no leading `/`, no NUL, no backslash-free trickery is needed since only `/` separates.
public enum SharedName {
    /// Longest name accepted anywhere (bytes of UTF-8), as on common file systems' PATH_MAX.
    public static let maximumLength = 4096

    /// True when `name` is a safe relative path inside a shared folder.
    public static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maximumLength else { return false }
        guard !name.hasPrefix("/"), !name.utf8.contains(0) else { return false }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." { return false }
        }
        return true
    }

    /// The last path component: what a download is saved as by default.
    public static func baseName(_ name: String) -> String {
        String(name.split(separator: "/").last ?? Substring(name))
    }
}
