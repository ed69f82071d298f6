#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicCore

/// Manifests of a folder's files kept on disk, keyed by name and checked against size,
/// modification time and inode, so a restarted seeder does not rehash unchanged files.
///
/// Stored as JSON, written to a temporary file and renamed, so a crash never leaves a
/// half-written cache; an unreadable cache is simply ignored (files are rehashed).
public struct ManifestCache: Sendable {
    struct Record: Codable, Sendable {
        var status: FileStatus
        /// Hex of the manifest's canonical encoding.
        var manifest: String
        var compressible: Bool
    }

    public let path: String?
    private var records: [String: Record] = [:]

    /// A cache at `path` (nil: in memory only).
    public init(path: String?) {
        self.path = path
        if let path, let data = FileManager.default.contents(atPath: path),
           let decoded = try? JSONDecoder().decode([String: Record].self, from: data) {
            records = decoded
        }
    }

    /// The default cache file for a shared folder: `$XDG_CACHE_HOME/sonic-share` (or
    /// `~/.cache/sonic-share`), one file per folder named after its real path's hash.
    public static func defaultPath(forFolder realRoot: String, stateDirectory: String?) -> String? {
        let env = ProcessInfo.processInfo.environment
        let base = stateDirectory
            ?? env["XDG_CACHE_HOME"].map { $0 + "/sonic-share" }
            ?? env["HOME"].map { $0 + "/.cache/sonic-share" }
        guard let base else { return nil }
        let tag = String(SHA256Hash.of(Array(realRoot.utf8)).hex.prefix(16))
        return base + "/manifests-\(tag).json"
    }

    /// The cached manifest for `name` if the file is unchanged.
    public func lookup(name: String, status: FileStatus) -> (Manifest, Bool)? {
        guard let record = records[name], record.status == status,
              let bytes = Hex.decode(record.manifest),
              let manifest = try? Manifest(canonicalEncoding: bytes)
        else { return nil }
        return (manifest, record.compressible)
    }

    public mutating func store(name: String, status: FileStatus, manifest: Manifest, compressible: Bool) {
        records[name] = Record(status: status, manifest: Hex.encode(manifest.canonicalEncoding), compressible: compressible)
    }

    /// Drops records of files no longer present.
    public mutating func retain(names: Set<String>) {
        records = records.filter { names.contains($0.key) }
    }

    /// Writes the cache (temp file + rename). Failures are returned, not thrown: a cache is an optimisation.
    public func save() -> String? {
        guard let path else { return nil }
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let data = try JSONEncoder().encode(records)
            let temp = path + ".tmp-\(getpid())"
            guard FileManager.default.createFile(atPath: temp, contents: data) else {
                return "cannot write \(temp)"
            }
            guard rename(temp, path) == 0 else {
                unlink(temp)
                return "cannot rename \(temp)"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
