import SonicCore
import Synchronization

/// A rate from a growing total: bytes per second over the last few seconds of samples.
final class RateMeter: Sendable {
    private let samples = Mutex<[(at: ContinuousClock.Instant, total: UInt64)]>([])
    private let window: Duration

    init(window: Duration = .seconds(3)) {
        self.window = window
    }

    /// Records `total` now and returns the current rate.
    @discardableResult
    func sample(_ total: UInt64, at now: ContinuousClock.Instant = .now) -> Double {
        samples.withLock { s in
            s.append((now, total))
            while s.count > 2, now - s[1].at >= window { s.removeFirst() }
            guard let first = s.first, s.count > 1 else { return 0 }
            let seconds = (now - first.at).seconds
            return seconds > 0 ? Double(total - min(first.total, total)) / seconds : 0
        }
    }
}
