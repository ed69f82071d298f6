import SonicCore
import SonicSeed
import Synchronization

/// Where a download's connections meet its start.
///
/// The connections open when nothing but the content id is known. Each greets its peer and
/// asks for the manifest (``offer(_:from:)``); the first manifest whose SHA-256 is the content
/// id starts the download. Meanwhile the others finish their handshakes, so the first
/// requests leave as soon as the download has its file and policy (``begin(_:)``). No
/// connection is opened for the manifest alone: that used to cost every download a TLS
/// handshake and two round trips before its first request (docs/PERFORMANCE.md).
///
/// Every connection ends through ``connectionEnded(_:endpoint:reason:)``: before the start it
/// is remembered (and counts against the manifest), after it the policy hears of it.
final class SwarmStart: Sendable {
    /// What a connection needs once the download has started.
    struct Context: Sendable {
        var engine: SwarmEngine
        var file: PartialFile
        var writers: PieceWriters
        var wholeFile: WholeFileHasher
        /// This download as offered to other peers (swarm feature), if it is.
        var serving: PartialHolding?
    }

    /// A peer's MANIFEST that is not the content's: it is dropped, never believed.
    struct ManifestRejected: Error, CustomStringConvertible {
        var description: String
    }

    private enum Phase {
        case waiting
        case begun(Context)
        case abandoned
    }

    private struct State {
        var manifest: Manifest?
        var manifestWaiter: CheckedContinuation<Manifest, any Error>?
        var cancelled = false
        /// Connections that ended before any brought the manifest, with why.
        var failures: [(Endpoint, String)] = []
        var phase = Phase.waiting
        var contextWaiters: [Int: CheckedContinuation<Context?, Never>] = [:]
        var waitersCounted = 0
        /// Waiters cancelled before they were registered.
        var cancelledWaiters: Set<Int> = []
        /// Connections that ended before the start, for the policy to hear of then.
        var endedBeforeStart: [(peer: SwarmPolicy.PeerID, reason: String?)] = []
    }

    let contentID: ContentID
    private let expectedSize: UInt64?
    private let connections: Int
    private let state = Mutex(State())

    /// - Parameters:
    ///   - expectedSize: the size the index gave, if any: a manifest of another size is refused.
    ///   - connections: how many connections look for the manifest; once all have ended
    ///     without one, ``manifest()`` fails.
    init(contentID: ContentID, expectedSize: UInt64?, connections: Int) {
        self.contentID = contentID
        self.expectedSize = expectedSize
        self.connections = connections
    }

    /// Whether some connection has brought the manifest already (a connection that need
    /// not ask its peer for anything else may then skip asking).
    var manifestKnown: Bool { state.withLock { $0.manifest != nil } }

    // MARK: Connections

    /// A peer's MANIFEST answer. Throws ``ManifestRejected`` unless its SHA-256 is the content
    /// id and it decodes (and has the expected size); the first one accepted starts the download.
    func offer(_ bytes: [UInt8], from peer: Endpoint) throws {
        guard SHA256Hash.of(bytes) == contentID.hash else {
            throw ManifestRejected(description: "served a manifest that does not match the content id")
        }
        let manifest: Manifest
        do {
            manifest = try Manifest(canonicalEncoding: bytes)
        } catch {
            throw ManifestRejected(description: "served a manifest that cannot be read: \(error)")
        }
        if let expectedSize, manifest.fileSize != expectedSize {
            throw ManifestRejected(description: "the manifest says \(manifest.fileSize) bytes, the index \(expectedSize)")
        }
        let waiter = state.withLock { state -> CheckedContinuation<Manifest, any Error>? in
            guard state.manifest == nil else { return nil }
            state.manifest = manifest
            defer { state.manifestWaiter = nil }
            return state.manifestWaiter
        }
        waiter?.resume(returning: manifest)
    }

    /// What the connection works with once the download has started; nil if it will not, or
    /// if the task is cancelled meanwhile.
    func context() async -> Context? {
        let waiter = state.withLock { state in
            state.waitersCounted += 1
            return state.waitersCounted
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Context?? in
                    switch state.phase {
                    case .begun(let context): return .some(context)
                    case .abandoned: return .some(nil)
                    case .waiting:
                        if state.cancelledWaiters.remove(waiter) != nil { return .some(nil) }
                        state.contextWaiters[waiter] = continuation
                        return .none
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let continuation = state.withLock { state in
                guard let continuation = state.contextWaiters.removeValue(forKey: waiter) else {
                    state.cancelledWaiters.insert(waiter)
                    return nil as CheckedContinuation<Context?, Never>?
                }
                return continuation
            }
            continuation?.resume(returning: nil)
        }
    }

    /// A connection ended, for `reason` (nil: it was told to, or the download ended).
    func connectionEnded(_ peer: SwarmPolicy.PeerID, endpoint: Endpoint, reason: String?) {
        let (engine, failed) = state.withLock { state -> (SwarmEngine?, (CheckedContinuation<Manifest, any Error>, SwarmDownload.NoManifest)?) in
            if case .begun(let context) = state.phase { return (context.engine, nil) }
            state.endedBeforeStart.append((peer, reason))
            guard state.manifest == nil else { return (nil, nil) }
            state.failures.append((endpoint, reason ?? "closed before sending the manifest"))
            guard state.failures.count >= connections, let waiter = state.manifestWaiter else { return (nil, nil) }
            state.manifestWaiter = nil
            return (nil, (waiter, noManifest(state)))
        }
        engine?.connectionEnded(peer, reason: reason)
        if let (waiter, failure) = failed { waiter.resume(throwing: failure) }
    }

    // MARK: The download

    /// The first manifest a peer brought that matches the content id. Throws
    /// ``SwarmDownload/NoManifest`` once every connection has ended without one, and
    /// `CancellationError` if the task is cancelled meanwhile.
    func manifest() async throws -> Manifest {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome = state.withLock { state -> Result<Manifest, any Error>? in
                    if state.cancelled { return .failure(CancellationError()) }
                    if let manifest = state.manifest { return .success(manifest) }
                    if state.failures.count >= connections { return .failure(noManifest(state)) }
                    state.manifestWaiter = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Manifest, any Error>? in
                state.cancelled = true
                defer { state.manifestWaiter = nil }
                return state.manifestWaiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// The download has its file and policy: the connections go on with them, and the
    /// policy hears of those that ended meanwhile.
    func begin(_ context: Context) {
        let (waiters, ended) = state.withLock { state in
            state.phase = .begun(context)
            defer { (state.contextWaiters, state.endedBeforeStart, state.cancelledWaiters) = ([:], [], []) }
            return (state.contextWaiters.values, state.endedBeforeStart)
        }
        for (peer, reason) in ended { context.engine.connectionEnded(peer, reason: reason) }
        for waiter in waiters { waiter.resume(returning: context) }
    }

    /// The download will not start: every connection waiting for it ends.
    func abandon() {
        let waiters = state.withLock { state in
            state.phase = .abandoned
            defer { (state.contextWaiters, state.cancelledWaiters) = ([:], []) }
            return state.contextWaiters.values
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    private func noManifest(_ state: State) -> SwarmDownload.NoManifest {
        SwarmDownload.NoManifest(contentID: contentID, attempts: state.failures)
    }
}
