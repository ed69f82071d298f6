import NIOCore
import SonicCore

extension Message {
    /// Decodes the payload of a frame of kind `kind`. The payload must be consumed exactly:
    /// trailing bytes are as malformed as missing ones.
    public static func decode(kind: Kind, payload: inout ByteBuffer) throws(WireError) -> Message {
        let message = try decodeFields(kind: kind, payload: &payload)
        guard payload.readableBytes == 0 else {
            throw .malformed("\(payload.readableBytes) trailing bytes after \(kind)")
        }
        return message
    }

    private static func decodeFields(kind: Kind, payload p: inout ByteBuffer) throws(WireError) -> Message {
        switch kind {
        case .hello:
            let version: UInt16 = try p.readWireInteger()
            guard version == ProtocolVersion.current else {
                // Another version may lay HELLO out differently: keep only its version so the
                // server can answer "version mismatch" rather than "malformed".
                p.moveReaderIndex(to: p.writerIndex)
                return .hello(Hello(version: version, role: .client, agent: ""))
            }
            let roleByte: UInt8 = try p.readWireInteger()
            guard let role = PeerRole(rawValue: roleByte) else { throw .malformed("unknown role \(roleByte)") }
            let port: UInt16 = try p.readWireInteger()
            let features = Features(rawValue: try p.readWireInteger())
            guard let nonce = p.readBytes(length: Hello.nonceLength) else { throw .malformed("truncated nonce") }
            let agent = try p.readWireString()
            return .hello(Hello(version: version, role: role, listenPort: port, features: features, nonce: nonce, agent: agent))
        case .welcome:
            let version: UInt16 = try p.readWireInteger()
            let session: UInt64 = try p.readWireInteger()
            let features = Features(rawValue: try p.readWireInteger())
            return .welcome(Welcome(version: version, sessionID: session, features: features))
        case .error:
            let code: UInt16 = try p.readWireInteger()
            let requestID: UInt32 = try p.readWireInteger()
            let text = try p.readWireString()
            return .error(ErrorMessage(ErrorCode(rawValue: code), requestID: requestID, text))
        case .challenge:
            guard let nonce = p.readBytes(length: Hello.nonceLength),
                  let proof = p.readBytes(length: Challenge.proofLength)
            else { throw .malformed("truncated challenge") }
            return .challenge(Challenge(nonce: nonce, proof: proof))
        case .auth:
            guard let proof = p.readBytes(length: Challenge.proofLength) else { throw .malformed("truncated proof") }
            return .auth(proof: proof)
        case .ok: return .ok
        case .exit: return .exit
        case .heartbeat: return .heartbeat
        case .register:
            let count = try readCount(&p, limit: WireLimits.maximumFilesPerFrame, what: "files")
            var files: [SharedFile] = []
            files.reserveCapacity(count)
            for _ in 0..<count {
                let name = try p.readWireString()
                let size: UInt64 = try p.readWireInteger()
                let id = try p.readContentID()
                let hash = try p.readHash()
                files.append(SharedFile(name: name, size: size, contentID: id, fileHash: hash))
            }
            return .register(files)
        case .unregister:
            let count = try readCount(&p, limit: WireLimits.maximumFilesPerFrame, what: "names")
            var names: [String] = []
            names.reserveCapacity(count)
            for _ in 0..<count { names.append(try p.readWireString()) }
            return .unregister(names)
        case .search:
            let modeByte: UInt8 = try p.readWireInteger()
            guard let mode = SearchRequest.Mode(rawValue: modeByte) else {
                throw .malformed("unknown search mode \(modeByte)")
            }
            let query = try p.readWireString()
            let offset: UInt32 = try p.readWireInteger()
            let limit: UInt32 = try p.readWireInteger()
            return .search(SearchRequest(mode: mode, query: query, offset: offset, limit: limit))
        case .searchResults:
            let total: UInt32 = try p.readWireInteger()
            let count = try readCount(&p, limit: WireLimits.maximumResultsPerFrame, what: "results")
            var results: [SearchResult] = []
            results.reserveCapacity(count)
            for _ in 0..<count {
                let id = try p.readContentID()
                let size: UInt64 = try p.readWireInteger()
                let hash = try p.readHash()
                let nameCount = Int(try p.readWireInteger(as: UInt16.self))
                guard nameCount <= WireLimits.maximumPeersPerResult else { throw .malformed("\(nameCount) names") }
                var names: [String] = []
                for _ in 0..<nameCount { names.append(try p.readWireString()) }
                let peerCount = Int(try p.readWireInteger(as: UInt16.self))
                guard peerCount <= WireLimits.maximumPeersPerResult else { throw .malformed("\(peerCount) peers") }
                var peers: [Endpoint] = []
                for _ in 0..<peerCount {
                    let host = try p.readWireString()
                    let port: UInt16 = try p.readWireInteger()
                    peers.append(Endpoint(host: host, port: Int(port)))
                }
                results.append(SearchResult(contentID: id, size: size, fileHash: hash, names: names, peers: peers))
            }
            try readResultsSections(&p, into: &results)
            return .searchResults(SearchResults(total: total, results: results))
        case .partial:
            let count = try readCount(&p, limit: WireLimits.maximumPartialContents, what: "partial contents")
            var ids: [ContentID] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try p.readContentID()) }
            return .partial(ids)
        case .manifestRequest:
            return .manifestRequest(try p.readContentID())
        case .manifest:
            let id = try p.readContentID()
            let bytes = p.readBytes(length: p.readableBytes) ?? []
            return .manifest(id, bytes)
        case .obtain:
            let requestID: UInt32 = try p.readWireInteger()
            return .obtain(requestID: requestID, name: try p.readWireString())
        case .obtainRange:
            let requestID: UInt32 = try p.readWireInteger()
            let id = try p.readContentID()
            let offset: UInt64 = try p.readWireInteger()
            let length: UInt64 = try p.readWireInteger()
            return .obtainRange(RangeRequest(requestID: requestID, contentID: id, offset: offset, length: length))
        case .data:
            let requestID: UInt32 = try p.readWireInteger()
            let encodingByte: UInt8 = try p.readWireInteger()
            guard let encoding = DataBlock.Encoding(rawValue: encodingByte) else {
                throw .malformed("unknown block encoding \(encodingByte)")
            }
            let rawLength: UInt32 = try p.readWireInteger()
            guard rawLength <= WireLimits.maximumBlockLength else {
                throw .malformed("block declares \(rawLength) raw bytes, limit is \(WireLimits.maximumBlockLength)")
            }
            let payload = p.readSlice(length: p.readableBytes)!
            if encoding == .raw, payload.readableBytes != Int(rawLength) {
                throw .malformed("raw block of \(payload.readableBytes) bytes declares \(rawLength)")
            }
            return .data(DataBlock(requestID: requestID, encoding: encoding, rawLength: rawLength, payload: payload))
        case .end:
            return .end(requestID: try p.readWireInteger())
        case .cancel:
            return .cancel(requestID: try p.readWireInteger())
        case .bitfield:
            let id = try p.readContentID()
            let pieceCount = Int(try p.readWireInteger(as: UInt32.self))
            guard pieceCount <= Manifest.maximumPieceCount else {
                throw .malformed("bitfield of \(pieceCount) pieces, limit is \(Manifest.maximumPieceCount)")
            }
            guard let bytes = p.readBytes(length: p.readableBytes),
                  let bitfield = PieceBitfield(bytes: bytes, pieceCount: pieceCount) else {
                throw .malformed("bitfield bytes do not fit \(pieceCount) pieces")
            }
            return .bitfield(id, bitfield)
        case .have:
            let id = try p.readContentID()
            return .have(id, piece: try p.readWireInteger())
        }
    }

    /// RESULTS' extension sections after the last group: `u8 tag, u32 length, bytes`, each
    /// tag at most once, unknown tags skipped (a later feature's section).
    private static func readResultsSections(_ p: inout ByteBuffer, into results: inout [SearchResult]) throws(WireError) {
        var seen: Set<UInt8> = []
        var peerIDSection: ByteBuffer?
        while p.readableBytes > 0 {
            let tag: UInt8 = try p.readWireInteger()
            let length = Int(try p.readWireInteger(as: UInt32.self))
            guard seen.insert(tag).inserted else { throw .malformed("RESULTS section \(tag) twice") }
            guard var section = p.readSlice(length: length) else {
                throw .malformed("RESULTS section \(tag) of \(length) bytes is truncated")
            }
            if ResultsSection(rawValue: tag) == .peerIDs {
                // Its entries follow the partial holders too: read once every section is in.
                peerIDSection = section
                continue
            }
            guard ResultsSection(rawValue: tag) == .partialPeers else { continue }
            let count = Int(try section.readWireInteger(as: UInt16.self))
            guard count <= WireLimits.maximumPartialPeersPerFrame else {
                throw .malformed("\(count) partial holders, limit is \(WireLimits.maximumPartialPeersPerFrame)")
            }
            for _ in 0..<count {
                let group = Int(try section.readWireInteger(as: UInt16.self))
                guard results.indices.contains(group) else { throw .malformed("partial holder of group \(group)") }
                let host = try section.readWireString()
                let port: UInt16 = try section.readWireInteger()
                guard results[group].partialPeers.count < WireLimits.maximumPeersPerResult else {
                    throw .malformed("more than \(WireLimits.maximumPeersPerResult) partial holders in a group")
                }
                results[group].partialPeers.append(Endpoint(host: host, port: Int(port)))
            }
            guard section.readableBytes == 0 else {
                throw .malformed("\(section.readableBytes) trailing bytes in RESULTS section \(tag)")
            }
        }
        if var section = peerIDSection { try readPeerIDs(&section, into: &results) }
    }

    /// Section 2: an entry per listed peer, whole holders group by group, then partial holders.
    private static func readPeerIDs(_ section: inout ByteBuffer, into results: inout [SearchResult]) throws(WireError) {
        func entry() throws(WireError) -> PeerID? {
            let n: UInt8 = try section.readWireInteger()
            switch Int(n) {
            case 0: return nil
            case SHA256Hash.byteCount: return PeerID(try section.readHash())
            default: throw .malformed("a peer id of \(n) bytes")
            }
        }
        for g in results.indices {
            var ids: [PeerID?] = []
            for _ in results[g].peers { ids.append(try entry()) }
            results[g].peerIDs = ids
        }
        for g in results.indices {
            var ids: [PeerID?] = []
            for _ in results[g].partialPeers { ids.append(try entry()) }
            results[g].partialPeerIDs = ids
        }
        guard section.readableBytes == 0 else { throw .malformed("trailing bytes in the peer id section") }
    }

    private static func readCount(_ p: inout ByteBuffer, limit: Int, what: String) throws(WireError) -> Int {
        let count = Int(try p.readWireInteger(as: UInt32.self))
        guard count <= limit else { throw .malformed("\(count) \(what), limit is \(limit)") }
        return count
    }
}

