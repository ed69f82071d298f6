import SonicCore

/// The rules that keep a slow peer from holding up the end of a download, from throughput
/// estimates and what is left to fetch (engine issue, "No tail"). Pure: numbers in, a
/// decision out; ``SwarmPolicy`` supplies the numbers and the time.
///
/// - **Do not start what you cannot finish in time.** A peer gets another piece unless the
///   others, each after its own queue, would finish every unassigned piece before it finished
///   this one. Near the end, a 1 MiB/s peer among 20 MiB/s peers stops taking pieces, instead
///   of taking one that the rest then wait a second for.
/// - **Copy what would arrive late.** An idle peer in endgame copies the in-flight piece
///   whose holder would deliver it latest, if it can deliver a copy clearly sooner (within
///   ``duplicateMargin`` of the holder's remaining time). The first verified copy wins and
///   the other request is cancelled.
///
/// Without estimates (the first fraction of a second), peers start work freely and
/// duplicates fall back to the age rule (``SwarmPolicy/duplicationAge(typical:)``).
enum TailPolicy {
    /// A copy must be projected to arrive in at most this share of the holder's remaining time.
    static let duplicateMargin = 0.75

    /// Seconds to deliver `bytes` at `rate` bytes per second.
    static func seconds(_ bytes: Double, at rate: Double) -> Double { bytes / rate }

    /// A peer leaves a piece to the others when they would finish it before ``startMargin``
    /// of its own time: a near tie is no reason to stay idle.
    static let startMargin = 0.8

    /// Whether a peer should start another piece of `pieceBytes`: not if the other peers,
    /// each after what it already has queued, would between them finish every unassigned
    /// piece before this peer finished this one.
    ///
    /// The peer that would finish a new piece first is never refused (if it were, some
    /// other peer would finish one sooner than it), so some peer always takes the work.
    /// - Parameters:
    ///   - queuedBytes: bytes the peer still owes on its in-flight requests.
    ///   - rate: its throughput, or nil if not known yet (it then starts).
    ///   - others: the other active peers' throughput (nil: unknown) and queued bytes.
    ///   - unassignedPieces: pieces nobody has in flight yet, this one included.
    static func shouldStart(pieceBytes: Double, queuedBytes: Double, rate: Double?,
                            others: [(rate: Double?, queuedBytes: Double)], unassignedPieces: Int) -> Bool {
        guard let rate, rate > 0 else { return true }
        let deadline = startMargin * seconds(queuedBytes + pieceBytes, at: rate)
        var piecesOthersFinish = 0
        for other in others {
            guard let otherRate = other.rate, otherRate > 0 else { continue }
            let spare = deadline * otherRate - other.queuedBytes
            if spare >= pieceBytes { piecesOthersFinish += Int(spare / pieceBytes) }
            if piecesOthersFinish >= unassignedPieces { return false }
        }
        return true
    }

    /// Whether an idle peer at `rate` should copy a piece of `pieceBytes` whose holder needs
    /// `holderSeconds` more to deliver it.
    static func shouldDuplicate(pieceBytes: Double, rate: Double, holderSeconds: Double) -> Bool {
        rate > 0 && seconds(pieceBytes, at: rate) < duplicateMargin * holderSeconds
    }
}

/// Throughput estimates per peer from the bytes they deliver: an exponentially weighted
/// average over windows of ``window``, so a peer's rate follows its cap within a second.
struct PeerRates: Sendable {
    static let window: Duration = .milliseconds(200)
    /// Weight of the newest window.
    static let weight = 0.3

    private struct Estimate: Sendable {
        var windowStart: ContinuousClock.Instant
        var windowBytes = 0
        var bytesPerSecond: Double?
    }

    private var estimates: [Int: Estimate] = [:]

    /// `bytes` arrived from `peer` at `now`.
    mutating func record(_ bytes: Int, from peer: Int, at now: ContinuousClock.Instant) {
        var e = estimates[peer] ?? Estimate(windowStart: now)
        e.windowBytes += bytes
        let elapsed = now - e.windowStart
        if elapsed >= Self.window {
            let sample = Double(e.windowBytes) / elapsed.seconds
            e.bytesPerSecond = e.bytesPerSecond.map { (1 - Self.weight) * $0 + Self.weight * sample } ?? sample
            e.windowStart = now
            e.windowBytes = 0
        }
        estimates[peer] = e
    }

    /// Bytes per second, once a whole window was seen.
    func rate(of peer: Int) -> Double? { estimates[peer]?.bytesPerSecond }

    /// Forgets a peer (it failed: its old rate says nothing about a reconnect).
    mutating func forget(_ peer: Int) { estimates[peer] = nil }
}
