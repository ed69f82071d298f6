import SonicCore

/// One peer connection as the swarm policy sees it: whether it may get work, and its
/// OBTAIN-RANGE requests in the order they were sent (the order their blocks arrive in).
/// A pure value inside ``SwarmPolicy``; the connection's I/O only carries out what the
/// policy decides with it.
///
/// ```
///   connecting ──connected──▶ ready ──closed (failed, banned, finished)──▶ closed
///        └────────────────────────────────────────────────────────────────▶
/// ```
///
/// A request is created *unsent*; the connection's sender takes it (``takeCommands()``) and
/// sends it, so every command of one connection leaves from one task, in order, whichever
/// peer's event created it. A cancelled request stays in the list until its END (or the
/// connection's end), because the peer may have sent blocks of it already.
struct PeerSession: Sendable {
    enum State: Sendable, Equatable {
        case connecting
        case ready
        case closed
    }

    struct Request: Sendable {
        let id: UInt32
        let piece: Int
        /// File offset of the request's first byte, and its length.
        let offset: UInt64
        let length: Int
        /// Another peer had the piece in flight when this was asked for (endgame).
        let isDuplicate: Bool
        let startedAt: ContinuousClock.Instant
        /// Raw (inflated) bytes received so far.
        var received = 0
        var sent = false
        /// When the policy cancelled it: what still arrives is discarded.
        var cancelledAt: ContinuousClock.Instant?
        var cancelSent = false

        var isCancelled: Bool { cancelledAt != nil }
        var owedBytes: Int { length - received }
    }

    /// What the connection's sender sends next.
    enum Command: Sendable, Equatable {
        case obtain(requestID: UInt32, offset: UInt64, length: Int)
        case cancel(requestID: UInt32)
    }

    private(set) var state: State = .connecting
    private(set) var requests: [Request] = []
    private var nextRequestID: UInt32 = 1

    var isReady: Bool { state == .ready }
    var isIdle: Bool { requests.isEmpty }
    var hasCommands: Bool { requests.contains { !$0.sent || ($0.isCancelled && !$0.cancelSent) } }

    mutating func connected() {
        if state == .connecting { state = .ready }
    }

    /// The connection ended: its requests are returned (to be handed back to the scheduler).
    mutating func close() -> [Request] {
        state = .closed
        defer { requests.removeAll() }
        return requests
    }

    /// A new request for `piece`, unsent. Returns its id.
    @discardableResult
    mutating func add(piece: Int, offset: UInt64, length: Int, isDuplicate: Bool, now: ContinuousClock.Instant) -> UInt32 {
        let id = nextRequestID
        nextRequestID &+= 1
        requests.append(Request(id: id, piece: piece, offset: offset, length: length, isDuplicate: isDuplicate, startedAt: now))
        return id
    }

    func index(of requestID: UInt32) -> Int? {
        requests.firstIndex { $0.id == requestID }
    }

    /// Marks the request for `piece` cancelled, if it has one that is not already. Returns
    /// whether it did: an unsent request is simply dropped (nothing to tell the peer).
    mutating func cancel(piece: Int, now: ContinuousClock.Instant) -> Bool {
        guard let i = requests.firstIndex(where: { $0.piece == piece && !$0.isCancelled }) else { return false }
        cancel(at: i, now: now)
        return true
    }

    mutating func cancel(at index: Int, now: ContinuousClock.Instant) {
        if requests[index].sent {
            requests[index].cancelledAt = now
        } else {
            requests.remove(at: index)
        }
    }

    mutating func received(_ bytes: Int, at index: Int) {
        requests[index].received += bytes
    }

    /// Removes a request that ended (END, ERROR).
    mutating func remove(at index: Int) -> Request {
        requests.remove(at: index)
    }

    /// Commands not sent yet, in the order they were decided; they count as sent from now on.
    mutating func takeCommands() -> [Command] {
        var commands: [Command] = []
        for i in requests.indices {
            if !requests[i].sent {
                requests[i].sent = true
                commands.append(.obtain(requestID: requests[i].id, offset: requests[i].offset, length: requests[i].length))
            }
            if requests[i].isCancelled && !requests[i].cancelSent {
                requests[i].cancelSent = true
                commands.append(.cancel(requestID: requests[i].id))
            }
        }
        return commands
    }

    /// Bytes this peer still owes, on every live request up to and including `piece`'s
    /// (blocks arrive in request order), or on all of them if `piece` is nil.
    func owedBytes(through piece: Int? = nil) -> Int {
        var owed = 0
        for request in requests where !request.isCancelled {
            owed += request.owedBytes
            if request.piece == piece { break }
        }
        return owed
    }
}
