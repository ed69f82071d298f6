import NIOCore
import SonicCore
import SonicWire

/// One message of every kind, with the awkward values names can have.
enum SampleMessages {
    static let idA = ContentID(SHA256Hash.of(Array("a".utf8)))
    static let idB = ContentID(SHA256Hash.of(Array("b".utf8)))
    static let hashA = SHA256Hash.of(Array("file a".utf8))

    static let all: [Message] = [
        .hello(Hello(role: .seeder, listenPort: 6020, features: [.deflate], agent: "sonic-seed/0.1")),
        .hello(Hello(role: .client, nonce: Array(UInt8(100)..<UInt8(116)), agent: "")),
        .welcome(Welcome(sessionID: 0x0102_0304_0506_0708, features: [.deflate])),
        .error(ErrorMessage(.rangeOutOfBounds, requestID: 7, "range 9+1 is outside the file")),
        .error(ErrorMessage(.unknown(999), "from a future version")),
        .ok, .exit, .heartbeat,
        .challenge(Challenge(nonce: [UInt8](repeating: 1, count: 16), proof: [UInt8](repeating: 2, count: 32))),
        .auth(proof: [UInt8](repeating: 3, count: 32)),
        .register([
            SharedFile(name: "meeting notes: 2026-11-24.txt", size: 76, contentID: idA, fileHash: hashA),
            SharedFile(name: "Ünïcødé façade — résumé.txt", size: 0, contentID: idB, fileHash: hashA),
            SharedFile(name: "nested/dir with space/x", size: UInt64.max, contentID: idA, fileHash: hashA),
        ]),
        .register([]),
        .unregister(["a:b", "c d", "日本語.txt", ""]),
        .search(SearchRequest(mode: .exact, query: "meeting notes: 2026-11-24.txt", offset: 3, limit: 10)),
        .search(SearchRequest(mode: .keyword, query: "")),
        .searchResults(SearchResults(total: 2, results: [
            SearchResult(contentID: idA, size: 76, fileHash: hashA, names: ["a: b.txt", "z.txt"],
                         peers: [Endpoint(host: "127.0.0.1", port: 6020), Endpoint(host: "::1", port: 6021)]),
            SearchResult(contentID: idB, size: 0, fileHash: hashA, names: ["empty"], peers: []),
        ])),
        .searchResults(SearchResults(total: 0, results: [])),
        // Peer ids (RESULTS section 2): one per listed peer, known or not, across groups.
        .searchResults(SearchResults(total: 2, results: [
            SearchResult(contentID: idA, size: 76, fileHash: hashA, names: ["a"],
                         peers: [Endpoint(host: "127.0.0.1", port: 6020), Endpoint(host: "127.0.0.1", port: 6021)],
                         peerIDs: [PeerID(hashA), nil]),
            SearchResult(contentID: idB, size: 0, fileHash: hashA, names: ["b"],
                         peers: [Endpoint(host: "127.0.0.1", port: 6022)], peerIDs: [PeerID(SHA256Hash.of([9]))]),
        ])),
        .searchResults(SearchResults(total: 3, results: [
            SearchResult(contentID: idA, size: 76, fileHash: hashA, names: ["a"], peers: [],
                         partialPeers: [Endpoint(host: "127.0.0.2", port: 7000), Endpoint(host: "::1", port: 7001)]),
            SearchResult(contentID: idB, size: 1, fileHash: hashA, names: ["b"], peers: [Endpoint(host: "10.0.0.1", port: 1)]),
        ])),
        .partial([idA, idB]),
        .partial([]),
        // Both sections: ids for whole holders, then for partial holders.
        .searchResults(SearchResults(total: 1, results: [
            SearchResult(contentID: idA, size: 76, fileHash: hashA, names: ["a"], peers: [Endpoint(host: "127.0.0.1", port: 1)],
                         partialPeers: [Endpoint(host: "127.0.0.2", port: 7000)],
                         peerIDs: [nil], partialPeerIDs: [PeerID(hashA)]),
        ])),
        .manifestRequest(idA),
        .manifest(idA, ManifestBuilder.manifest(of: Array(repeating: 7, count: 3000), pieceSize: 1024).canonicalEncoding),
        .obtain(requestID: 1, name: "meeting notes: 2026-11-24.txt"),
        .obtainRange(RangeRequest(requestID: 0xdead_beef, contentID: idB, offset: 1 << 40, length: 1 << 20)),
        .data(DataBlock(requestID: 5, encoding: .raw, rawLength: 5, payload: ByteBuffer(string: "hello"))),
        .data(DataBlock(requestID: 6, encoding: .deflate, rawLength: 1000, payload: ByteBuffer(bytes: [0x78, 0x9c, 1, 2, 3]))),
        .data(DataBlock(requestID: 8, encoding: .raw, rawLength: 0, payload: ByteBuffer())),
        .end(requestID: 5),
        .cancel(requestID: 6),
        .bitfield(idA, PieceBitfield(pieceCount: 11, pieces: [0, 3, 10])),
        .bitfield(idB, PieceBitfield(pieceCount: 0)),
        .have(idA, piece: 10),
    ]

    static func frame(_ message: Message) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeFrame(message)
        return buffer
    }
}
