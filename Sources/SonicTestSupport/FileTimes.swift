import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Gives the file at `path` the modification time of the file at `source`, to the nanosecond
/// (a file swapped in without changing what a scan records). True on success.
public func copyModificationTime(from source: String, to path: String) -> Bool {
    var st = stat()
    guard stat(source, &st) == 0 else { return false }
    var times = [st.st_mtim, st.st_mtim]
    return utimensat(AT_FDCWD, path, &times, 0) == 0
}
