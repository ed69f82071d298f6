import SonicCore
import SonicWire
import Synchronization

/// One file this peer shares: where it is, what it is, and the facts that tell whether it
/// changed on disk since it was hashed.
public struct SharedEntry: Sendable, Equatable {
    /// Relative name, `/`-separated (``SharedName``).
    public var name: String
    /// Where it is on disk.
    public var location: SharedLocation
    /// What the scan saw; a file opened to be served must still match it.
    public var status: FileStatus
    public var manifest: Manifest
    public var contentID: ContentID
    /// Whether data blocks of this file are worth deflating (decided once, at scan time).
    public var compressible: Bool

    public init(name: String, location: SharedLocation, status: FileStatus, manifest: Manifest, compressible: Bool) {
        self.name = name
        self.location = location
        self.status = status
        self.manifest = manifest
        self.contentID = manifest.contentID
        self.compressible = compressible
    }

    /// Absolute path on disk (for logs and the compressibility probe).
    public var path: String { location.path }

    /// Opens the file to serve it: refused if it is not the file the scan found (a symlink
    /// swapped in, a replaced or changed file).
    public func open() throws -> ReadOnlyFile {
        try location.open(expecting: status)
    }

    /// What the index is told about this file.
    public var sharedFile: SharedFile {
        SharedFile(name: name, size: manifest.fileSize, contentID: contentID, fileHash: manifest.fileHash)
    }
}

/// Where a shared file lies: its shared folder's real path and a path below it that the scan
/// found free of symbolic links.
public struct SharedLocation: Sendable, Equatable {
    public var root: String
    public var relativePath: String

    public init(root: String, relativePath: String) {
        self.root = root
        self.relativePath = relativePath
    }

    public var path: String { root + "/" + relativePath }

    /// Opens the file without following links, checking it is the file described by `status`.
    public func open(expecting status: FileStatus) throws -> ReadOnlyFile {
        try ReadOnlyFile.openShared(root: root, relativePath: relativePath, expecting: status)
    }
}

/// The set of files this peer shares right now. Scans replace it whole; every change bumps
/// ``generation`` so announcers know when to tell the indexes.
public final class SharedLibrary: Sendable {
    private struct State {
        var byName: [String: SharedEntry] = [:]
        var byContent: [ContentID: SharedEntry] = [:]
        var generation = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func replaceAll(_ entries: [SharedEntry]) {
        state.withLock { s in
            let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            guard byName != s.byName else { return }
            s.byName = byName
            s.byContent = Dictionary(entries.map { ($0.contentID, $0) }, uniquingKeysWith: { a, _ in a })
            s.generation += 1
        }
    }

    public func entry(named name: String) -> SharedEntry? {
        state.withLock { $0.byName[name] }
    }

    public func entry(for contentID: ContentID) -> SharedEntry? {
        state.withLock { $0.byContent[contentID] }
    }

    public var generation: Int { state.withLock { $0.generation } }

    /// The current generation and every file, sorted by name.
    public func snapshot() -> (generation: Int, files: [SharedFile]) {
        state.withLock { s in (s.generation, s.byName.values.map(\.sharedFile).sorted { $0.name < $1.name }) }
    }

    public var entries: [SharedEntry] {
        state.withLock { Array($0.byName.values).sorted { $0.name < $1.name } }
    }
}
