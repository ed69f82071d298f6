import SonicCore

/// Every decision of one swarm download, as a pure state machine: the engine reports each
/// event with the time, and carries out the actions returned (in the style of
/// async-http-client's connection pool state machine). No I/O, no clock, no locks: tests
/// drive it with virtual time (`SwarmPolicySimulationTests`).
///
/// It owns the ``PieceScheduler`` (which piece next), one ``PeerSession`` per connection
/// (its requests in order), the throughput estimates and ``TailPolicy`` (no slow-peer
/// tail), the in-flight budget (memory), the verification verdicts and bans, and the
/// counters of the progress line and the report.
///
/// Work is pushed, not polled: every event that may free work (a connection ready, a piece
/// verified or given back, a peer lost, bytes arrived, time passed) refills the pipelines of
/// every connection at once, and ``SwarmAction/send(to:)`` wakes the connections that have
/// new commands.
struct SwarmPolicy: Sendable {
    typealias PeerID = PieceScheduler.PeerID

    struct Settings: Sendable {
        /// Requests kept in flight per connection.
        var requestsPerPeer = 2
        /// Requesters per piece at most in endgame.
        var maxRequestersPerPiece = 2
        /// Piece bytes in flight across all connections, beyond one request per connection.
        var maximumInFlightBytes = 32 << 20
        /// A connection that goes on sending a cancelled request this long is dropped.
        var peerTimeout: Duration = .seconds(5)
        /// How often the file is flushed and the resume record saved while pieces verify.
        /// Each flush leaves the final `fdatasync` less to commit: on ext4 it commits the
        /// extents written since the last one, and every 250 ms instead of every second took
        /// 20 ms (8 × 20 MiB/s) to 70 ms (7 × 20 + 1 MiB/s) off a 256 MiB download's end.
        var checkpointInterval: Duration = .milliseconds(250)
        /// Orders equally rare pieces (``PieceScheduler``); the engine draws one per download.
        var tieBreakSeed: UInt64 = 0
        /// Connections at most, the first ones included (`--max-peers`).
        var maximumPeers = 32
    }

    /// What the connection that reported a block does with it.
    enum BlockVerdict: Sendable, Equatable {
        /// Inflate, hash and store it: it is `offset` bytes into request `requestID`'s piece.
        case keep(piece: Int, fileOffset: UInt64, writesThrough: Bool)
        /// Not needed (its request was cancelled): drop it.
        case discard
    }

    /// What to do with a request whose END arrived.
    enum EndVerdict: Sendable, Equatable {
        /// The piece verified: store it (write a duplicate's buffer, or confirm the bytes
        /// written through), then report ``SwarmPolicy/pieceStored(by:requestID:piece:won:now:)``.
        case store(piece: Int)
        /// Nothing to store (cancelled, or verified from another peer meanwhile).
        case drop
    }

    enum Action: Sendable, Equatable {
        /// The connection has commands to send (``PeerSession/takeCommands()``): wake its sender.
        case send(to: PeerID)
        /// End this connection: banned, or dropped for a protocol violation.
        case close(PeerID, reason: String)
        /// Flush the file and save the resume record.
        case checkpoint
        /// Every piece is verified.
        case finished
    }

    struct PeerRecord: Sendable {
        var endpoint: Endpoint
        var fileBytes: UInt64 = 0
        var wireBytes: UInt64 = 0
        var pieces = 0
        var failures = 0
        var banned = false
        var connected = false
        var lastError: String?
    }

    let manifest: Manifest
    let settings: Settings
    /// Requests in flight across all connections at most (beyond each one's first).
    let maximumInFlight: Int
    private(set) var scheduler: PieceScheduler
    private(set) var sessions: [PeerSession]
    private(set) var peers: [PeerRecord]
    private var rates = PeerRates()
    /// Requests in all sessions.
    private(set) var inFlight = 0
    private(set) var verifiedBytes: UInt64
    /// Bytes received into requests still in flight.
    private(set) var receivingBytes: UInt64 = 0
    private(set) var retriedPieces = 0
    /// Smoothed time from request to verified piece, in seconds (nil before the first).
    private var pieceSeconds: Double?
    private var lastCheckpoint: (at: ContinuousClock.Instant?, verified: Int)
    /// Whether the flush ahead of the end was asked for (``refill(now:)``).
    private var endgameFlushed = false
    private var finishedReported = false

    init(manifest: Manifest, peers: [Endpoint], alreadyVerified: [Int], settings: Settings) {
        self.manifest = manifest
        self.settings = settings
        self.maximumInFlight = max(1, settings.maximumInFlightBytes / max(1, manifest.pieceSize))
        var scheduler = PieceScheduler(pieceCount: manifest.pieceCount, alreadyVerified: alreadyVerified,
                                       maxRequestersPerPiece: settings.maxRequestersPerPiece,
                                       tieBreakSeed: settings.tieBreakSeed)
        for (id, endpoint) in peers.enumerated() {
            scheduler.addPeer(id)
            scheduler.setAffinity(Self.affinityKey(of: endpoint), of: id)
        }
        self.scheduler = scheduler
        self.sessions = Array(repeating: PeerSession(), count: peers.count)
        self.peers = peers.map { PeerRecord(endpoint: $0) }
        self.verifiedBytes = alreadyVerified.reduce(0) { $0 + UInt64(manifest.length(ofPiece: $1)) }
        self.lastCheckpoint = (nil, scheduler.verifiedCount)
    }

    var isComplete: Bool { scheduler.isComplete }

    /// The peer's key for piece homes (PieceScheduler+Affinity): FNV-1a of its address, the
    /// same in every download and every process, so each downloader of a file asks a seeder
    /// for the blocks it has deflated for the last one.
    static func affinityKey(of endpoint: Endpoint) -> UInt64 {
        endpoint.description.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0100_0000_01B3 }
    }

    // MARK: Connection events

    /// The connection's handshake completed: it gets work.
    mutating func connected(_ peer: PeerID, now: ContinuousClock.Instant) -> [Action] {
        sessions[peer].connected()
        peers[peer].connected = true
        return refill(now: now)
    }

    /// The connection ended: an I/O error, a stall, a protocol violation, or the end of the
    /// download. Its requests go back to the others. `reason` nil: a normal end.
    mutating func connectionEnded(_ peer: PeerID, reason: String?, now: ContinuousClock.Instant) -> [Action] {
        guard sessions[peer].state != .closed else { return [] }
        endSession(peer)
        peers[peer].connected = false
        guard let reason else {
            _ = scheduler.peerFailed(peer)
            return refill(now: now)
        }
        retriedPieces += scheduler.peerFailed(peer).count
        rates.forget(peer)
        peers[peer].failures += 1
        peers[peer].lastError = reason
        return refill(now: now)
    }

    /// The peer holds only the pieces in `holdings` (a BITFIELD from a partial holder).
    mutating func holdingsArrived(from peer: PeerID, _ holdings: PieceBitfield, now: ContinuousClock.Instant) -> [Action] {
        guard holdings.pieceCount == manifest.pieceCount else {
            return close(peer, reason: "protocol violation: a bitfield of \(holdings.pieceCount) pieces for "
                             + "\(manifest.pieceCount)", now: now)
        }
        scheduler.setHoldings(holdings, of: peer)
        return refill(now: now)
    }

    /// The peer verified one more piece (a HAVE from a partial holder).
    mutating func haveArrived(from peer: PeerID, piece: Int, now: ContinuousClock.Instant) -> [Action] {
        guard piece >= 0, piece < manifest.pieceCount else {
            return close(peer, reason: "protocol violation: HAVE of piece \(piece) of \(manifest.pieceCount)", now: now)
        }
        scheduler.peerHas(piece, peer: peer)
        return refill(now: now)
    }

    /// Holders learnt of during the download (the index asked again). The ones not known
    /// yet, up to ``Settings/maximumPeers`` connections in all, become new peers, returned to
    /// be connected.
    mutating func peersDiscovered(_ endpoints: [Endpoint]) -> [(peer: PeerID, endpoint: Endpoint)] {
        var known = Set(peers.map(\.endpoint))
        var joined: [(peer: PeerID, endpoint: Endpoint)] = []
        for endpoint in endpoints where sessions.count < settings.maximumPeers && known.insert(endpoint).inserted {
            let peer = sessions.count
            sessions.append(PeerSession())
            peers.append(PeerRecord(endpoint: endpoint))
            scheduler.addPeer(peer)
            scheduler.setAffinity(Self.affinityKey(of: endpoint), of: peer)
            joined.append((peer, endpoint))
        }
        return joined
    }

    /// The commands the connection's sender sends now, in order.
    mutating func takeCommands(for peer: PeerID) -> [PeerSession.Command] {
        sessions[peer].takeCommands()
    }

    // MARK: Data

    /// A DATA block of `rawLength` bytes (`wireLength` on the wire) arrived for `requestID`.
    mutating func blockArrived(from peer: PeerID, requestID: UInt32, rawLength: Int, wireLength: Int,
                               now: ContinuousClock.Instant) -> (BlockVerdict, [Action]) {
        peers[peer].wireBytes += UInt64(wireLength)
        let session = sessions[peer]
        // Blocks arrive in request order: only the oldest request may receive any.
        guard let first = session.requests.first, first.id == requestID else {
            let expected = session.requests.first.map { "expected \($0.id)" } ?? "none in flight"
            return (.discard, close(peer, reason: "protocol violation: data for request \(requestID), \(expected)", now: now))
        }
        if let cancelledAt = first.cancelledAt {
            // A peer that ignores CANCEL would hold this connection (and, at the end, the
            // whole download) for as long as it drips bytes.
            guard now - cancelledAt < settings.peerTimeout else {
                return (.discard, close(peer, reason: "protocol violation: still sending a request cancelled "
                                            + "\(settings.peerTimeout) ago", now: now))
            }
            return (.discard, [])
        }
        if scheduler.isVerified(first.piece) {
            sessions[peer].cancel(at: 0, now: now)
            return (.discard, [.send(to: peer)])
        }
        guard first.received + rawLength <= first.length else {
            return (.discard, ban(peer, piece: first.piece, reason: "piece \(first.piece) failed verification "
                                      + "(more bytes than the piece holds)", now: now))
        }
        let offset = first.offset + UInt64(first.received)
        sessions[peer].received(rawLength, at: 0)
        receivingBytes += UInt64(rawLength)
        rates.record(rawLength, from: peer, at: now)
        var actions = withdrawLateRequest(of: peer, now: now)
        // A new rate may let a peer start work the tail rule held back.
        if sessions.contains(where: { $0.isReady && $0.requests.count < settings.requestsPerPeer }) {
            actions = merge(actions, refill(now: now))
        }
        return (.keep(piece: first.piece, fileOffset: offset, writesThrough: !first.isDuplicate), actions)
    }

    /// Rule one of ``TailPolicy`` applied again once a peer's rate is known: its last
    /// request, if not started, is cancelled and its piece handed back when the other peers
    /// would finish it and everything unassigned first. Requests are handed out before any
    /// rate is known, so without this a slow peer keeps the second piece of its first
    /// pipeline to the end of the download, and someone has to copy it.
    private mutating func withdrawLateRequest(of peer: PeerID, now: ContinuousClock.Instant) -> [Action] {
        guard rates.rate(of: peer) != nil, let last = sessions[peer].requests.last, last.sent, !last.isCancelled,
              last.received == 0, !last.isDuplicate, sessions[peer].requests.count > 1,
              !shouldStart(peer, queuedBytes: sessions[peer].owedBytes() - last.length, unassignedPieces: scheduler.unassignedCount + 1)
        else { return [] }
        _ = sessions[peer].cancel(piece: last.piece, now: now)
        scheduler.pieceAbandoned(last.piece, by: peer)
        return [.send(to: peer)]
    }

    /// The block could not be stored: the piece was taken over by another peer's copy, or it
    /// is not a valid deflate stream (`corrupt`).
    mutating func blockRejected(from peer: PeerID, requestID: UInt32, corrupt reason: String?,
                                now: ContinuousClock.Instant) -> [Action] {
        guard let i = sessions[peer].index(of: requestID) else { return [] }
        let piece = sessions[peer].requests[i].piece
        if let reason {
            return ban(peer, piece: piece, reason: "piece \(piece) failed verification (\(reason))", now: now)
        }
        sessions[peer].cancel(at: i, now: now)
        return [.send(to: peer)]
    }

    /// END of `requestID` arrived; `digest` is the SHA-256 of what it received (nil if
    /// nothing was kept).
    mutating func requestEnded(from peer: PeerID, requestID: UInt32, digest: SHA256Hash?,
                               now: ContinuousClock.Instant) -> (EndVerdict, [Action]) {
        guard let first = sessions[peer].requests.first, first.id == requestID else {
            return (.drop, close(peer, reason: "protocol violation: END for request \(requestID), "
                                     + (sessions[peer].requests.first.map { "expected \($0.id)" } ?? "none in flight"), now: now))
        }
        let request = removeRequest(peer, at: 0)
        if request.isCancelled || scheduler.isVerified(request.piece) {
            // Unless the piece came back to this peer since (a withdrawn request).
            if !sessions[peer].requests.contains(where: { $0.piece == request.piece }) {
                scheduler.pieceAbandoned(request.piece, by: peer)
            }
            return (.drop, refill(now: now))
        }
        guard request.received == request.length else {
            return (.drop, ban(peer, piece: request.piece, reason: "piece \(request.piece) failed verification "
                                   + "(\(request.received) of \(request.length) bytes)", now: now))
        }
        guard digest == manifest.pieceHashes[request.piece] else {
            return (.drop, ban(peer, piece: request.piece, reason: "piece \(request.piece) failed verification (SHA-256 mismatch)", now: now))
        }
        pieceSeconds = pieceSeconds.map { 0.8 * $0 + 0.2 * (now - request.startedAt).seconds } ?? (now - request.startedAt).seconds
        return (.store(piece: request.piece), [])
    }

    /// The verified piece was stored (``EndVerdict/store(piece:)``); `won` false if another
    /// copy was stored first.
    mutating func pieceStored(_ piece: Int, by peer: PeerID, won: Bool, now: ContinuousClock.Instant) -> [Action] {
        guard won, !scheduler.isVerified(piece) else {
            scheduler.pieceAbandoned(piece, by: peer)
            return refill(now: now)
        }
        var actions: [Action] = []
        for other in scheduler.pieceVerified(piece, by: peer) where sessions[other].cancel(piece: piece, now: now) {
            actions.append(.send(to: other))
        }
        // An unsent duplicate simply vanished from its session: account for it.
        inFlight = sessions.reduce(0) { $0 + $1.requests.count }
        let length = UInt64(manifest.length(ofPiece: piece))
        verifiedBytes += length
        peers[peer].fileBytes += length
        peers[peer].pieces += 1
        if scheduler.isComplete {
            // No checkpoint: the engine commits the file and removes the resume record.
            if !finishedReported {
                finishedReported = true
                actions.append(.finished)
            }
            return actions
        }
        return merge(actions, refill(now: now))
    }

    /// The peer answered a request with ERROR: its copy is gone or changed, so nothing more
    /// is to be had from it.
    mutating func requestRefused(by peer: PeerID, requestID: UInt32, reason: String, now: ContinuousClock.Instant) -> [Action] {
        guard let i = sessions[peer].index(of: requestID) else {
            return close(peer, reason: "protocol violation: ERROR for unknown request \(requestID)", now: now)
        }
        let request = removeRequest(peer, at: i)
        scheduler.pieceAbandoned(request.piece, by: peer)
        return close(peer, reason: "peer no longer serves this content: \(reason)", now: now)
    }

    // MARK: Time

    /// Time passed: duplicates by age before rates are known, and the resume record.
    mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        let actions = refill(now: now)
        guard lastCheckpoint.at.map({ now - $0 >= settings.checkpointInterval }) ?? true,
              let checkpoint = checkpoint(now: now) else { return actions }
        return merge(actions, [checkpoint])
    }

    /// How long a piece must have been in flight before an idle peer copies it while
    /// throughput is unknown: twice the typical piece time, or 250 ms before any piece.
    static func duplicationAge(typical seconds: Double?) -> Duration {
        guard let seconds else { return .milliseconds(250) }
        return .milliseconds(Int64(max(0.02, 2 * seconds) * 1000))
    }

    // MARK: Assigning work

    /// Fills every ready connection's pipeline; the connections given work are woken.
    private mutating func refill(now: ContinuousClock.Instant) -> [Action] {
        guard !scheduler.isComplete else { return [] }
        var actions: [Action] = []
        for peer in sessions.indices where sessions[peer].isReady {
            var added = false
            while sessions[peer].requests.count < settings.requestsPerPeer,
                  let assignment = nextPiece(for: peer, now: now) {
                let range = manifest.range(ofPiece: assignment.piece)
                sessions[peer].add(piece: assignment.piece, offset: range.lowerBound,
                                   length: Int(range.upperBound - range.lowerBound),
                                   isDuplicate: assignment.isDuplicate, now: now)
                inFlight += 1
                added = true
            }
            if added { actions.append(.send(to: peer)) }
        }
        if scheduler.unassignedCount == 0, !endgameFlushed, let flush = checkpoint(now: now) {
            // Every piece is handed out: what remains is in flight, a fraction of a second
            // at full speed. A flush now leaves the final `fdatasync` only what arrives
            // from here on, where the timer's last one may have left it 250 ms and more.
            endgameFlushed = true
            actions.append(flush)
        }
        return actions
    }

    /// A checkpoint, if pieces were verified since the last one; recorded as taken.
    private mutating func checkpoint(now: ContinuousClock.Instant) -> Action? {
        let verified = scheduler.verifiedCount
        // A complete download is committed instead.
        guard !scheduler.isComplete, verified != lastCheckpoint.verified else { return nil }
        lastCheckpoint = (now, verified)
        return .checkpoint
    }

    /// The next piece for `peer`, or nil: nothing to do now, over the in-flight budget, or a
    /// piece it would deliver after everyone else finished (``TailPolicy``). Endgame
    /// duplicates only go to an idle peer; an idle peer may always have one request, so the
    /// budget never starves a peer.
    ///
    /// A peer's pipelined requests made before it has delivered a byte take pieces from the
    /// end of the file. Its speed is unknown then, and a slow peer keeps such a piece to
    /// the end of the download: low in the file, that piece would stop the whole-file
    /// SHA-256 (which runs front to back) until it arrived, and everything after it would be
    /// read back and hashed only then (measured, 7 × 20 + 1 MiB/s: 150 ms after the last
    /// block). At the end of the file it stops nothing.
    private mutating func nextPiece(for peer: PeerID, now: ContinuousClock.Instant) -> PieceScheduler.Assignment? {
        let idle = sessions[peer].isIdle
        guard idle || inFlight < maximumInFlight else { return nil }
        if scheduler.unassignedCount > 0 {
            guard shouldStart(peer) else { return nil }
            return scheduler.nextPiece(for: peer, now: now, allowDuplicate: false,
                                       fromTheEnd: !idle && peers[peer].wireBytes == 0)
        }
        return idle ? duplicateForIdle(peer, now: now) : nil
    }

    /// Rule one of ``TailPolicy``, with this download's numbers: whether `peer`, owing
    /// `queuedBytes` (all it owes, by default), should take one of `unassignedPieces`.
    private func shouldStart(_ peer: PeerID, queuedBytes: Int? = nil, unassignedPieces: Int? = nil) -> Bool {
        // The rule assumes any other peer can fetch any piece: not so with partial holders,
        // where leaving a piece to the others could leave it to nobody.
        guard scheduler.activePartialHolders == 0, let rate = rates.rate(of: peer) else { return true }
        let others = sessions.indices.filter { $0 != peer && sessions[$0].isReady && scheduler.isActive($0) }.map {
            (rate: rates.rate(of: $0), queuedBytes: Double(sessions[$0].owedBytes()))
        }
        return TailPolicy.shouldStart(pieceBytes: Double(manifest.pieceSize),
                                      queuedBytes: Double(queuedBytes ?? sessions[peer].owedBytes()),
                                      rate: rate, others: others,
                                      unassignedPieces: unassignedPieces ?? scheduler.unassignedCount)
    }

    /// Rule two of ``TailPolicy``: the in-flight piece whose holder would deliver it latest,
    /// if `peer` can deliver a copy clearly sooner. Before rates are known, the age rule.
    private mutating func duplicateForIdle(_ peer: PeerID, now: ContinuousClock.Instant) -> PieceScheduler.Assignment? {
        guard let rate = rates.rate(of: peer) else {
            return scheduler.nextPiece(for: peer, now: now, allowDuplicate: true,
                                       duplicateAfter: Self.duplicationAge(typical: pieceSeconds))
        }
        var best: (piece: Int, holderSeconds: Double)?
        for candidate in scheduler.duplicateCandidates(for: peer) {
            // The earliest projected delivery among its requesters.
            let holderSeconds = candidate.requests.map { request in
                holderSecondsLeft(request.peer, piece: candidate.piece, startedAt: request.startedAt, now: now)
            }.min() ?? 0
            if holderSeconds > (best?.holderSeconds ?? 0) { best = (candidate.piece, holderSeconds) }
        }
        guard let best, TailPolicy.shouldDuplicate(pieceBytes: Double(manifest.length(ofPiece: best.piece)), rate: rate,
                                                   holderSeconds: best.holderSeconds)
        else { return nil }
        return scheduler.duplicate(best.piece, for: peer, now: now)
    }

    /// Seconds until `holder` delivers `piece`: what it owes on it and on the requests it
    /// made before it, at its rate. Without a rate, the age rule says whether the piece is
    /// late (infinitely far) or not (now).
    private func holderSecondsLeft(_ holder: PeerID, piece: Int, startedAt: ContinuousClock.Instant,
                                   now: ContinuousClock.Instant) -> Double {
        guard let rate = rates.rate(of: holder), rate > 0 else {
            return now - startedAt >= Self.duplicationAge(typical: pieceSeconds) ? .infinity : 0
        }
        return Double(sessions[holder].owedBytes(through: piece)) / rate
    }

    // MARK: Bookkeeping

    private mutating func removeRequest(_ peer: PeerID, at index: Int) -> PeerSession.Request {
        let request = sessions[peer].remove(at: index)
        inFlight -= 1
        receivingBytes -= min(receivingBytes, UInt64(request.received))
        return request
    }

    private mutating func endSession(_ peer: PeerID) {
        for request in sessions[peer].close() {
            inFlight -= 1
            receivingBytes -= min(receivingBytes, UInt64(request.received))
        }
    }

    /// The peer sent bad data for `piece`: banned for this download, its connection closed.
    private mutating func ban(_ peer: PeerID, piece: Int, reason: String, now: ContinuousClock.Instant) -> [Action] {
        endSession(peer)
        retriedPieces += 1
        _ = scheduler.pieceCorrupt(piece, from: peer)
        rates.forget(peer)
        peers[peer].failures += 1
        peers[peer].banned = true
        peers[peer].connected = false
        peers[peer].lastError = reason
        return merge([.close(peer, reason: reason)], refill(now: now))
    }

    /// Drops the connection for a protocol violation (not banned: its data was not wrong).
    private mutating func close(_ peer: PeerID, reason: String, now: ContinuousClock.Instant) -> [Action] {
        merge([.close(peer, reason: reason)], connectionEnded(peer, reason: reason, now: now))
    }

    private func merge(_ a: [Action], _ b: [Action]) -> [Action] {
        a + b.filter { !a.contains($0) }
    }
}
