import NIOCore
import SonicCore

extension ByteBuffer {
    /// Writes `message` as one whole frame: `u32 payload length`, `u8 kind`, payload.
    ///
    /// ```
    /// +-----------------+----------+------------------------+
    /// | length (u32 BE) | kind (u8)| payload (length bytes) |
    /// +-----------------+----------+------------------------+
    /// ```
    public mutating func writeFrame(_ message: Message) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        writeInteger(message.kind.rawValue)
        let payloadStart = writerIndex
        writePayload(of: message)
        let length = writerIndex - payloadStart
        precondition(length <= WireLimits.maximumPayload(for: message.kind),
                     "\(message.kind) payload of \(length) bytes exceeds its limit")
        setInteger(UInt32(length), at: lengthIndex)
    }

    private mutating func writePayload(of message: Message) {
        switch message {
        case .hello(let h):
            writeInteger(h.version)
            writeInteger(h.role.rawValue)
            writeInteger(h.listenPort)
            writeInteger(h.features.rawValue)
            writeBytes(h.nonce)
            writeWireString(h.agent)
        case .welcome(let w):
            writeInteger(w.version)
            writeInteger(w.sessionID)
            writeInteger(w.features.rawValue)
        case .error(let e):
            writeInteger(e.code.rawValue)
            writeInteger(e.requestID)
            writeWireString(e.message.truncatedToWireLength())
        case .ok, .exit, .heartbeat:
            break
        case .challenge(let c):
            writeBytes(c.nonce)
            writeBytes(c.proof)
        case .auth(let proof):
            writeBytes(proof)
        case .register(let files):
            writeInteger(UInt32(files.count))
            for f in files {
                writeWireString(f.name)
                writeInteger(f.size)
                writeHash(f.contentID.hash)
                writeHash(f.fileHash)
            }
        case .unregister(let names):
            writeInteger(UInt32(names.count))
            for n in names { writeWireString(n) }
        case .search(let s):
            writeInteger(s.mode.rawValue)
            writeWireString(s.query)
            writeInteger(s.offset)
            writeInteger(s.limit)
        case .searchResults(let r):
            writeInteger(r.total)
            writeInteger(UInt32(r.results.count))
            for g in r.results {
                writeHash(g.contentID.hash)
                writeInteger(g.size)
                writeHash(g.fileHash)
                writeInteger(UInt16(g.names.count))
                for n in g.names { writeWireString(n) }
                writeInteger(UInt16(g.peers.count))
                for p in g.peers {
                    writeWireString(p.host)
                    writeInteger(UInt16(p.port))
                }
            }
            writePartialPeerSection(of: r.results)
            writePeerIDSection(of: r.results)
        case .partial(let ids):
            writeInteger(UInt32(ids.count))
            for id in ids { writeHash(id.hash) }
        case .manifestRequest(let id):
            writeHash(id.hash)
        case .manifest(let id, let bytes):
            writeHash(id.hash)
            writeBytes(bytes)
        case .obtain(let requestID, let name):
            writeInteger(requestID)
            writeWireString(name)
        case .obtainRange(let r):
            writeInteger(r.requestID)
            writeHash(r.contentID.hash)
            writeInteger(r.offset)
            writeInteger(r.length)
        case .data(let d):
            writeInteger(d.requestID)
            writeInteger(d.encoding.rawValue)
            writeInteger(d.rawLength)
            writeImmutableBuffer(d.payload)
        case .end(let requestID), .cancel(let requestID):
            writeInteger(requestID)
        case .bitfield(let id, let bitfield):
            writeHash(id.hash)
            writeInteger(UInt32(bitfield.pieceCount))
            writeBytes(bitfield.bytes)
        case .have(let id, let piece):
            writeHash(id.hash)
            writeInteger(piece)
        }
    }
}

extension ByteBuffer {
    /// RESULTS' optional partial-holder section (tag 1, docs/PROTOCOL.md, "Swarm"): written
    /// only when some group lists partial holders, so a session without the swarm feature
    /// gets RESULTS exactly as before.
    fileprivate mutating func writePartialPeerSection(of results: [SearchResult]) {
        let count = results.reduce(0) { $0 + $1.partialPeers.count }
        guard count > 0 else { return }
        precondition(count <= WireLimits.maximumPartialPeersPerFrame, "\(count) partial holders in one RESULTS")
        writeInteger(ResultsSection.partialPeers.rawValue)
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let start = writerIndex
        writeInteger(UInt16(count))
        for (group, result) in results.enumerated() {
            for peer in result.partialPeers {
                writeInteger(UInt16(group))
                writeWireString(peer.host)
                writeInteger(UInt16(peer.port))
            }
        }
        setInteger(UInt32(writerIndex - start), at: lengthIndex)
    }
}

extension ByteBuffer {
    /// RESULTS' peer id section (tag 2, docs/PROTOCOL.md, "TLS"): one entry per listed peer,
    /// whole holders group by group, then partial holders in section 1's order; written only
    /// when some id is known.
    fileprivate mutating func writePeerIDSection(of results: [SearchResult]) {
        guard results.contains(where: { g in g.peerIDs.contains { $0 != nil } || g.partialPeerIDs.contains { $0 != nil } })
        else { return }
        writeInteger(ResultsSection.peerIDs.rawValue)
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let start = writerIndex
        func entry(_ id: PeerID?) {
            if let id {
                writeInteger(UInt8(SHA256Hash.byteCount))
                writeBytes(id.hash.bytes)
            } else {
                writeInteger(UInt8(0))
            }
        }
        for g in results { for i in g.peers.indices { entry(g.peerID(at: i)) } }
        for g in results { for i in g.partialPeers.indices { entry(g.partialPeerID(at: i)) } }
        setInteger(UInt32(writerIndex - start), at: lengthIndex)
    }
}

extension String {
    /// The longest prefix that fits a wire string (``WireLimits/maximumStringLength`` bytes),
    /// cut between characters so it stays valid UTF-8.
    func truncatedToWireLength() -> String {
        guard utf8.count > WireLimits.maximumStringLength else { return self }
        var out = ""
        var bytes = 0
        for character in self {
            let size = character.utf8.count
            guard bytes + size <= WireLimits.maximumStringLength else { break }
            out.append(character)
            bytes += size
        }
        return out
    }
}
