import SonicCore
import Synchronization

/// The peer id the index gave for each peer of a download, and the peers refused because
/// their TLS certificate did not match it (docs/SECURITY.md, "Pinning").
///
/// Shared by the connections of one download; the index's later answers (discovery) add to it.
public final class PeerPins: Sendable {
    private let state = Mutex<(pins: [Endpoint: PeerID], refusals: [Endpoint: SessionError])>(([:], [:]))

    public init(_ pins: [Endpoint: PeerID] = [:]) {
        state.withLock { $0.pins = pins }
    }

    /// Adds or replaces the ids the index gave.
    public func add(_ pins: [Endpoint: PeerID]) {
        state.withLock { $0.pins.merge(pins) { _, new in new } }
    }

    /// The id `endpoint` must present; nil if the index gave none (then any is accepted).
    public func expected(for endpoint: Endpoint) -> PeerID? {
        state.withLock { $0.pins[endpoint] }
    }

    /// Remembers a refusal (``SessionError/identityMismatch(_:expected:presented:)``) to report.
    public func refused(_ error: SessionError) {
        guard case .identityMismatch(let endpoint, _, _) = error else { return }
        state.withLock { $0.refusals[endpoint] = error }
    }

    /// The peers refused so far, each with why, in address order.
    public var refusals: [SessionError] {
        state.withLock { s in s.refusals.sorted { $0.key.description < $1.key.description }.map(\.value) }
    }
}
