#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicCore

/// Lists the files under a shared folder that may be shared, with their names.
///
/// Rules (docs/ARCHITECTURE.md, "What a seeder shares"): regular files only; names are paths
/// relative to the folder with `/` separators; hidden entries (leading `.`, which includes
/// our own partial and resume files) are skipped; a symlink is followed only when its target
/// is a regular file inside the folder (symlinked directories are never followed, so there
/// are no loops); anything whose real path leaves the folder is refused.
public struct FolderScanner: Sendable {
    public let root: String
    /// The folder's real path (symlinks resolved), for containment checks.
    public let realRoot: String

    public struct Found: Sendable, Equatable {
        public var name: String
        /// Where the file is: a path below the folder's real path with no symlink in it (a
        /// shared symlink's target), opened later with ``ReadOnlyFile/openShared(root:relativePath:expecting:)``.
        public var location: SharedLocation
        public var status: FileStatus
        public var path: String { location.path }
    }

    public init(root: String) throws {
        guard let real = Self.realPath(root) else {
            throw FileError(path: root, message: "no such folder")
        }
        guard FileStatus.isDirectory(real) else {
            throw FileError(path: root, message: "not a folder")
        }
        self.root = root
        self.realRoot = real
    }

    /// The shareable files, sorted by name. `refused` hears every name that breaks the
    /// ``SharedName`` rules (control characters, over-long), which is skipped.
    public func scan(refused: (_ name: String) -> Void = { _ in }) -> [Found] {
        var found: [Found] = []
        walk(directory: realRoot, prefix: "", into: &found, refused: refused)
        return found.sorted { $0.name < $1.name }
    }

    private func walk(directory: String, prefix: String, into found: inout [Found], refused: (String) -> Void) {
        guard let children = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for child in children where !child.hasPrefix(".") {
            let path = directory + "/" + child
            let name = prefix.isEmpty ? child : prefix + "/" + child
            guard SharedName.isSafe(name) else {
                refused(name)
                continue
            }
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                walk(directory: path, prefix: name, into: &found, refused: refused)
            case S_IFREG:
                if let status = try? FileStatus.of(path: path) {
                    found.append(Found(name: name, location: SharedLocation(root: realRoot, relativePath: name), status: status))
                }
            case S_IFLNK:
                // Followed only to a regular file that stays inside the folder.
                guard let target = resolveInside(path), let status = try? FileStatus.of(path: target) else { continue }
                var tst = stat()
                guard stat(target, &tst) == 0, tst.st_mode & S_IFMT == S_IFREG else { continue }
                let relative = String(target.dropFirst(realRoot.count + 1))
                found.append(Found(name: name, location: SharedLocation(root: realRoot, relativePath: relative), status: status))
            default:
                continue
            }
        }
    }

    /// The real path of `path` if it lies inside the shared folder, else nil.
    public func resolveInside(_ path: String) -> String? {
        guard let real = Self.realPath(path) else { return nil }
        return real.hasPrefix(realRoot + "/") ? real : nil
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
