@testable import SonicSeed
import Synchronization
import Testing

@Suite struct UploadSlotsTests {
    @Test func aFreedSlotGoesToTheLongestWaiter() async {
        let slots = UploadSlots(count: 1)
        #expect(await slots.acquire(within: .seconds(60)))
        let order = Recorded()
        await withTaskGroup(of: Void.self) { group in
            for waiter in 0..<3 {
                group.addTask {
                    let held = await slots.acquire(within: .seconds(60))
                    order.values.withLock { $0.append(held ? waiter : -1) }
                    slots.release()
                }
                // The next waiter queues only once this one is waiting.
                while slots.waiting < waiter + 1 { await Task.yield() }
            }
            slots.release()
        }
        #expect(order.values.withLock { $0 } == [0, 1, 2])
        // All free again: one acquire succeeds at once.
        #expect(await slots.acquire(within: .zero))
    }

    @Test func aWaitIsBoundedAndThenGoesOnWithoutASlot() async {
        let slots = UploadSlots(count: 1)
        #expect(await slots.acquire(within: .seconds(60)))
        #expect(await slots.acquire(within: .milliseconds(20)) == false)
        #expect(slots.waiting == 0)
        slots.release()
        #expect(await slots.acquire(within: .zero))
    }
}

private final class Recorded: Sendable {
    let values = Mutex<[Int]>([])
}
