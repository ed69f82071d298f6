import NIOCore
import SonicCore
import SonicWire
import Testing

/// RESULTS' extension area (docs/PROTOCOL.md): sections after the last group.
@Suite struct ResultsSectionTests {
    let peer = Endpoint(host: "127.0.0.1", port: 6020)
    let id = PeerID(SHA256Hash.of(Array("key".utf8)))

    func payload(_ results: SearchResults) -> ByteBuffer {
        var frame = SampleMessages.frame(.searchResults(results))
        frame.moveReaderIndex(forwardBy: WireLimits.headerLength)
        return frame
    }

    /// One group holding content A under the name "a".
    func oneGroup(peers: [Endpoint], peerIDs: [PeerID?] = []) -> SearchResults {
        SearchResults(total: 1, results: [
            SearchResult(contentID: SampleMessages.idA, size: 1, fileHash: SampleMessages.hashA, names: ["a"],
                         peers: peers, peerIDs: peerIDs),
        ])
    }

    func decode(_ payload: ByteBuffer) throws -> Message {
        var p = payload
        return try Message.decode(kind: .searchResults, payload: &p)
    }

    @Test func withoutPeerIDsTheFrameHasNoSection() {
        let plain = oneGroup(peers: [peer])
        var withUnknown = plain
        withUnknown.results[0].peerIDs = [nil]
        #expect(payload(plain) == payload(withUnknown))
    }

    @Test func thePeerIDSectionIsTag2WithOneEntryPerPeer() throws {
        var results = oneGroup(peers: [peer, peer], peerIDs: [id, nil])
        var p = payload(results)
        results.results[0].peerIDs = []
        let groupsOnly = payload(results).readableBytes
        p.moveReaderIndex(forwardBy: groupsOnly)
        let tag = p.readInteger(as: UInt8.self)
        let length = p.readInteger(as: UInt32.self)
        let firstLength = p.readInteger(as: UInt8.self)
        let first = p.readBytes(length: 32)
        let secondLength = p.readInteger(as: UInt8.self)
        #expect(tag == 2 && length == 34)
        #expect(firstLength == 32 && first == id.hash.bytes)
        #expect(secondLength == 0 && p.readableBytes == 0)
    }

    @Test func unknownSectionsAreSkipped() throws {
        let results = oneGroup(peers: [peer], peerIDs: [id])
        var p = payload(results)
        p.writeInteger(UInt8(77))
        p.writeInteger(UInt32(3))
        p.writeBytes([1, 2, 3])
        #expect(try decode(p) == .searchResults(results))
    }

    @Test func aSectionRunningPastTheFrameOrAWrongCountIsMalformed() {
        let results = oneGroup(peers: [peer], peerIDs: [id])
        var long = payload(results)
        long.writeInteger(UInt8(5))
        long.writeInteger(UInt32(100))
        #expect(throws: WireError.self) { try decode(long) }
        var extra = payload(results)
        // The last entry (a length byte and an id) becomes a length of 7 with 32 bytes.
        extra.moveWriterIndex(to: extra.writerIndex - (1 + SHA256Hash.byteCount))
        extra.writeInteger(UInt8(7))
        extra.writeBytes([UInt8](repeating: 0, count: 32))
        #expect(throws: WireError.self) { try decode(extra) }
    }
}
