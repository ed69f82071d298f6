import SonicCore
import SonicWire
import Synchronization

/// One file this peer shares: where it is, what it is, and the facts that tell whether it
/// changed on disk since it was hashed.
public struct SharedEntry: Sendable, Equatable {
    /// Relative name, `/`-separated (``SharedName``).
    public var name: String
    /// Absolute path on disk.
    public var path: String
    public var status: FileStatus
    public var manifest: Manifest
    public var contentID: ContentID
    /// Whether data blocks of this file are worth deflating (decided once, at scan time).
    public var compressible: Bool

    public init(name: String, path: String, status: FileStatus, manifest: Manifest, compressible: Bool) {
        self.name = name
        self.path = path
        self.status = status
        self.manifest = manifest
        self.contentID = manifest.contentID
        self.compressible = compressible
    }

    /// What the index is told about this file.
    public var sharedFile: SharedFile {
        SharedFile(name: name, size: manifest.fileSize, contentID: contentID, fileHash: manifest.fileHash)
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
