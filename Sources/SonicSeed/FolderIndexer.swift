import Logging
import SonicCore

/// Keeps a ``SharedLibrary`` in step with a folder: scans, reuses cached manifests for
/// unchanged files, hashes new or changed ones, and drops vanished ones.
public final class FolderIndexer: Sendable {
    public let scanner: FolderScanner
    public let library: SharedLibrary
    private let cache: Mutex<ManifestCache>
    private let probe: @Sendable (_ path: String, _ name: String) -> Bool
    private let logger: Logger
    private let rescanRequested = Atomic<Bool>(false)
    /// Refused names already logged, so each is reported once, not at every rescan.
    private let reportedRefusals = Mutex<Set<String>>([])

    /// - Parameter probe: decides, once per new or changed file, whether its blocks are worth deflating.
    public init(scanner: FolderScanner, library: SharedLibrary, cachePath: String?, logger: Logger,
                probe: @escaping @Sendable (_ path: String, _ name: String) -> Bool) {
        self.scanner = scanner
        self.library = library
        self.cache = Mutex(ManifestCache(path: cachePath))
        self.probe = probe
        self.logger = logger
    }

    /// Asks for a rescan soon (a served file turned out to differ from its manifest).
    public func requestRescan() {
        rescanRequested.store(true, ordering: .relaxed)
    }

    /// True (once) if a rescan was requested since the last call.
    public func takeRescanRequest() -> Bool {
        rescanRequested.exchange(false, ordering: .relaxed)
    }

    public struct Outcome: Sendable, Equatable {
        public var files: Int
        public var hashed: Int
        public var failed: Int
    }

    /// One pass over the folder. Hashing runs on the calling task; cancellation stops between files.
    @discardableResult
    public func rescan() -> Outcome {
        var refused: Set<String> = []
        let found = scanner.scan { refused.insert($0) }
        let newlyRefused = reportedRefusals.withLock { reported in
            defer { reported = refused }
            return refused.subtracting(reported)
        }
        for name in newlyRefused.sorted() {
            logger.warning("not sharing a file whose name has control characters or is too long",
                           metadata: ["name": "\(TerminalText.escaped(name))"])
        }
        var entries: [SharedEntry] = []
        var hashed = 0
        var failed = 0
        for file in found {
            if Task.isCancelled { break }
            if let (manifest, compressible) = cache.withLock({ $0.lookup(name: file.name, status: file.status) }) {
                entries.append(SharedEntry(name: file.name, location: file.location, status: file.status,
                                           manifest: manifest, compressible: compressible))
                continue
            }
            do {
                // Hash the very file the scan found (no link followed), and keep the result only
                // if it did not change while it was hashed.
                let opened = try file.location.open(expecting: file.status)
                defer { opened.close() }
                let manifest = try ManifestBuilder.manifest(of: opened)
                guard try opened.status() == file.status else {
                    logger.info("file changed while hashing; will retry", metadata: ["name": "\(file.name)"])
                    failed += 1
                    continue
                }
                let compressible = probe(file.path, file.name)
                cache.withLock { $0.store(name: file.name, status: file.status, manifest: manifest, compressible: compressible) }
                entries.append(SharedEntry(name: file.name, location: file.location, status: file.status,
                                           manifest: manifest, compressible: compressible))
                hashed += 1
                logger.debug("hashed", metadata: ["name": "\(file.name)", "content": "\(manifest.contentID.shortHex)"])
            } catch {
                failed += 1
                logger.warning("cannot share file", metadata: ["name": "\(file.name)", "error": "\(error)"])
            }
        }
        let before = library.generation
        library.replaceAll(entries)
        if hashed > 0 || library.generation != before {
            let error = cache.withLock { cache in
                cache.retain(names: Set(entries.map(\.name)))
                return cache.save()
            }
            if let error { logger.warning("cannot save manifest cache", metadata: ["error": "\(error)"]) }
        }
        return Outcome(files: entries.count, hashed: hashed, failed: failed)
    }
}

import Synchronization
