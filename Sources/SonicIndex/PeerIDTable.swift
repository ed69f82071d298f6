import SonicCore
import SonicWire

/// The peer id each serving session proved in its TLS handshake, by the address the index
/// lists it under: what RESULTS carries beside each peer (docs/PROTOCOL.md, section 2).
///
/// Only this process's sessions are known here; with a shared PostgreSQL store, the ids of
/// peers connected to other index processes come from the store (``IndexStore/peerIDs(at:)``),
/// where each process records its own. An id is never taken from anything a peer says, only
/// from the handshake.
struct PeerIDTable: Sendable {
    private var byAddress: [Endpoint: (session: UInt64, id: PeerID)] = [:]

    mutating func connected(_ session: UInt64, address: Endpoint, id: PeerID) {
        byAddress[address] = (session, id)
    }

    /// Forgets the session's entry, unless a newer session took its address since.
    mutating func disconnected(_ session: UInt64, address: Endpoint) {
        if byAddress[address]?.session == session { byAddress[address] = nil }
    }

    /// The addresses in `results` without an id here.
    func unknownAddresses(in results: SearchResults) -> Set<Endpoint> {
        var unknown: Set<Endpoint> = []
        for group in results.results {
            for peer in group.peers + group.partialPeers where byAddress[peer] == nil { unknown.insert(peer) }
        }
        return unknown
    }

    /// `results` with each peer's id filled in where known (here, else in `alsoKnown`), cut
    /// short (from the end) if the ids would take the frame past its limit; `total` stays, so
    /// the client pages on.
    func annotated(_ results: SearchResults, alsoKnown: [Endpoint: PeerID]) -> SearchResults {
        guard !byAddress.isEmpty || !alsoKnown.isEmpty else { return results }
        let id = { (peer: Endpoint) in byAddress[peer]?.id ?? alsoKnown[peer] }
        var out = results
        var budget = WireLimits.maximumPayload(for: .searchResults) - WireSize.resultsHeader - WireSize.sectionHeader
        var kept = 0
        // Section 1 (partial holders) is counted too: its header and count, then per holder
        // its group, host and port.
        if out.results.contains(where: { !$0.partialPeers.isEmpty }) { budget -= WireSize.sectionHeader + 2 }
        for i in out.results.indices {
            out.results[i].peerIDs = out.results[i].peers.map(id)
            out.results[i].partialPeerIDs = out.results[i].partialPeers.map(id)
            let ids = out.results[i].peerIDs + out.results[i].partialPeerIDs
            let cost = WireSize.searchResult(out.results[i])
                + out.results[i].partialPeers.reduce(0) { $0 + WireSize.partialPeer($1) }
                + ids.reduce(0) { $0 + 1 + ($1 == nil ? 0 : SHA256Hash.byteCount) }
            guard cost <= budget else { break }
            budget -= cost
            kept += 1
        }
        out.results.removeSubrange(kept...)
        return out
    }
}
