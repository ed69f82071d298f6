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
            if r.results.contains(where: { $0.peerIDs.contains { $0 != nil } }) {
                writeInteger(ResultsSection.peerIDs.rawValue)
                let lengthAt = writerIndex
                writeInteger(UInt32(0))
                for g in r.results {
                    for i in g.peers.indices {
                        if let id = g.peerID(at: i) {
                            writeInteger(UInt8(SHA256Hash.byteCount))
                            writeBytes(id.hash.bytes)
                        } else {
                            writeInteger(UInt8(0))
                        }
                    }
                }
                setInteger(UInt32(writerIndex - lengthAt - 4), at: lengthAt)
            }
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
