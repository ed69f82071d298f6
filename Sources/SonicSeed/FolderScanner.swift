import Foundation
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
        public var path: String
        public var status: FileStatus
    }

    public init(root: String) throws {
        guard let real = Self.realPath(root) else {
            throw FileError(path: root, message: "no such folder")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: real, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(path: root, message: "not a folder")
        }
        self.root = root
        self.realRoot = real
    }

    public func scan() -> [Found] {
        var found: [Found] = []
        walk(directory: realRoot, prefix: "", into: &found)
        return found.sorted { $0.name < $1.name }
    }

    private func walk(directory: String, prefix: String, into found: inout [Found]) {
        guard let children = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for child in children where !child.hasPrefix(".") {
            let path = directory + "/" + child
            let name = prefix.isEmpty ? child : prefix + "/" + child
            guard SharedName.isSafe(name) else { continue }
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                walk(directory: path, prefix: name, into: &found)
            case S_IFREG:
                if let status = try? FileStatus.of(path: path) {
                    found.append(Found(name: name, path: path, status: status))
                }
            case S_IFLNK:
                // Followed only to a regular file that stays inside the folder.
                guard let target = resolveInside(path), let status = try? FileStatus.of(path: target) else { continue }
                var tst = stat()
                guard stat(target, &tst) == 0, tst.st_mode & S_IFMT == S_IFREG else { continue }
                found.append(Found(name: name, path: target, status: status))
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
