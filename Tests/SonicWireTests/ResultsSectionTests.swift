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

    func decode(_ payload: ByteBuffer) throws -> Message {
        var p = payload
        return try Message.decode(kind: .searchResults, payload: &p)
    }

    @Test func withoutPeerIDsTheFrameHasNoSection() {
        let plain = SearchResults(total: 1, results: [
            SearchResult(contentID: SampleMessages.idA, size: 1, fileHash: SampleMessages.hashA, names: ["a"], peers: [peer]),
        ])
        var withUnknown = plain
        withUnknown.results[0].peerIDs = [nil]
        #expect(payload(plain) == payload(withUnknown))
    }

    @Test func thePeerIDSectionIsTag2WithOneEntryPerPeer() throws {
        var results = SearchResults(total: 1, results: [
            SearchResult(contentID: SampleMessages.idA, size: 1, fileHash: SampleMessages.hashA, names: ["a"],
                         peers: [peer, peer], peerIDs: [id, nil]),
        ])
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
        let results = SearchResults(total: 1, results: [
            SearchResult(contentID: SampleMessages.idA, size: 1, fileHash: SampleMessages.hashA, names: ["a"],
                         peers: [peer], peerIDs: [id]),
        ])
        var p = payload(results)
        p.writeInteger(UInt8(77))
        p.writeInteger(UInt32(3))
        p.writeBytes([1, 2, 3])
        #expect(try decode(p) == .searchResults(results))
    }

    @Test func aSectionRunningPastTheFrameOrAWrongCountIsMalformed() {
        let results = SearchResults(total: 1, results: [
            SearchResult(contentID: SampleMessages.idA, size: 1, fileHash: SampleMessages.hashA, names: ["a"],
                         peers: [peer], peerIDs: [id]),
        ])
        var long = payload(results)
        long.writeInteger(UInt8(5))
        long.writeInteger(UInt32(100))
        #expect(throws: WireError.self) { try decode(long) }
        var extra = payload(results)
        extra.moveWriterIndex(to: extra.writerIndex - 33)
        extra.writeInteger(UInt8(7))
        extra.writeBytes([UInt8](repeating: 0, count: 32))
        #expect(throws: WireError.self) { try decode(extra) }
    }
}
