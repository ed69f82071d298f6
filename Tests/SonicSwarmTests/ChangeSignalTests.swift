@testable import SonicSwarm
import Testing

@Suite("ChangeSignal")
struct ChangeSignalTests {
    @Test func aChangeAfterReadingTheGenerationIsNeverLost() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        signal.signal()
        // Returns at once: the generation moved since it was read.
        await signal.wait(since: seen)
        #expect(signal.generation != seen)
    }

    @Test func waitersWakeOnTheNextSignal() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await signal.wait(since: seen) } }
            // Keep signalling until every waiter has returned (a waiter may register late).
            group.addTask {
                while !Task.isCancelled {
                    signal.signal()
                    await Task.yield()
                }
            }
            for _ in 0..<3 { await group.next() }
            group.cancelAll()
        }
        #expect(signal.generation != seen)
    }

    @Test func cancellationEndsAWait() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        let waiter = Task { await signal.wait(since: seen) }
        waiter.cancel()
        await waiter.value
        #expect(signal.generation == seen, "it returned without any change")
    }
}
