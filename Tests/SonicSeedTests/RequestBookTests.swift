@testable import SonicSeed
import Testing

/// Cancel bookkeeping of one peer connection (hostile testing, defect 8).
@Suite("RequestBook")
struct RequestBookTests {
    @Test func cancelsOfRequestsThatAreNotLiveAreIgnored() {
        let book = RequestBook()
        for id in 0..<10_000 { book.cancel(UInt32(id)) }
        #expect(book.pendingCancellations == 0)
        _ = book.enqueued(requestID: 7)
        #expect(!book.isCancelled(7))
    }

    @Test func aLiveRequestIsCancelledUntilItEndsAndItsIdCanBeReused() {
        let book = RequestBook()
        #expect(book.enqueued(requestID: 5) == 1)
        book.cancel(5)
        #expect(book.isCancelled(5))
        book.dequeued()
        book.finished(requestID: 5)
        #expect(book.pendingCancellations == 0)
        #expect(book.enqueued(requestID: 5) == 1)
        #expect(!book.isCancelled(5))
    }

    @Test func manifestRequestsCountInTheQueueButCannotBeCancelled() {
        let book = RequestBook()
        #expect(book.enqueued(requestID: nil) == 1)
        #expect(book.enqueued(requestID: 1) == 2)
        book.dequeued()
        book.finished(requestID: nil)
        book.cancel(1)
        #expect(book.isCancelled(1))
    }
}
