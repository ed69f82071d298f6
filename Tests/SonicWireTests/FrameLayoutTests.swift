import NIOCore
import SonicCore
import SonicWire
import Testing

/// Exact bytes on the wire for a few messages, written out by hand from docs/PROTOCOL.md.
@Suite struct FrameLayoutTests {
    func bytes(_ message: Message) -> [UInt8] {
        Array(SampleMessages.frame(message).readableBytesView)
    }

    @Test func hello() {
        let nonce = Array(UInt8(1)...UInt8(16))
        let message = Message.hello(Hello(version: 1, role: .seeder, listenPort: 0x1774, features: [.deflate],
                                          nonce: nonce, agent: "ab"))
        #expect(bytes(message) == [
            0, 0, 0, 26,       // payload length
            0x01,              // HELLO
            0, 1,              // version
            1,                 // role: seeder
            0x17, 0x74,        // listen port 6004
            1,                 // features: deflate
        ] + nonce + [          // 16-byte nonce
            0, 2, 0x61, 0x62,  // agent "ab"
        ])
    }

    @Test func challengeAndAuth() {
        let nonce = [UInt8](repeating: 7, count: 16)
        let proof = [UInt8](repeating: 9, count: 32)
        #expect(bytes(.challenge(Challenge(nonce: nonce, proof: proof))) == [0, 0, 0, 48, 0x06] + nonce + proof)
        #expect(bytes(.auth(proof: proof)) == [0, 0, 0, 32, 0x07] + proof)
    }

    @Test func aHelloOfAnotherVersionDecodesAsJustItsVersion() throws {
        // Version 2 might lay HELLO out differently; only its version is read.
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 0x01, 0, 2, 0xde, 0xad, 0xbe])
        var decoder = FrameDecoder()
        guard case .hello(let hello) = try decoder.decode(buffer: &buffer) else {
            Issue.record("not a HELLO")
            return
        }
        #expect(hello.version == 2)
    }

    @Test func obtainRange() {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: 0xaa, count: 32))!)
        let message = Message.obtainRange(RangeRequest(requestID: 258, contentID: id, offset: 0x0102, length: 0x1_0000_0000))
        #expect(bytes(message) == [0, 0, 0, 52, 0x23, 0, 0, 1, 2] + [UInt8](repeating: 0xaa, count: 32)
            + [0, 0, 0, 0, 0, 0, 1, 2] + [0, 0, 0, 1, 0, 0, 0, 0])
    }

    @Test func errorWithUnicodeText() {
        let message = Message.error(ErrorMessage(.notFound, requestID: 3, "ü"))
        #expect(bytes(message) == [0, 0, 0, 10, 0x03, 0, 7, 0, 0, 0, 3, 0, 2, 0xc3, 0xbc])
    }

    @Test func dataBlock() {
        let message = Message.data(DataBlock(requestID: 1, encoding: .deflate, rawLength: 300, payload: ByteBuffer(bytes: [9, 8])))
        #expect(bytes(message) == [0, 0, 0, 11, 0x24, 0, 0, 0, 1, 1, 0, 0, 1, 0x2c, 9, 8])
    }

    @Test func bitfieldAndHave() {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: 0xaa, count: 32))!)
        let idBytes = [UInt8](repeating: 0xaa, count: 32)
        // Pieces 0, 3 and 10 of 11: 1001_0000 0010_0000, most significant bit first.
        let bitfield = Message.bitfield(id, PieceBitfield(pieceCount: 11, pieces: [0, 3, 10]))
        #expect(bytes(bitfield) == [0, 0, 0, 38, 0x27] + idBytes + [0, 0, 0, 11, 0b1001_0000, 0b0010_0000])
        #expect(bytes(.have(id, piece: 258)) == [0, 0, 0, 36, 0x28] + idBytes + [0, 0, 1, 2])
    }

    @Test func aBitfieldThatDoesNotFitItsPieceCountIsMalformed() {
        let idBytes = [UInt8](repeating: 0xaa, count: 32)
        for body in [
            [0, 0, 0, 11, 0xff],              // one byte short
            [0, 0, 0, 11, 0xff, 0xe1],        // a bit set past piece 10
            [0, 0, 0x40, 0x01] + [UInt8](repeating: 0, count: 2049),  // more pieces than a manifest holds
        ] as [[UInt8]] {
            let payload = [0x27] + idBytes + body
            let length = payload.count - 1
            var buffer = ByteBuffer(bytes: [0, 0, UInt8(length >> 8), UInt8(length & 0xff)] + payload)
            var decoder = FrameDecoder()
            #expect(throws: WireError.self) { try decoder.decode(buffer: &buffer) }
        }
    }

    @Test func notHeldIsErrorCode15AndSwarmIsFeatureBit1() {
        #expect(ErrorCode.notHeld.rawValue == 15)
        #expect(ErrorCode(rawValue: 15) == .notHeld)
        #expect(Features.swarm.rawValue == 0b10)
        let hello = Message.hello(Hello(version: 1, role: .client, listenPort: 0, features: [.deflate, .swarm],
                                        nonce: [UInt8](repeating: 0, count: 16), agent: ""))
        #expect(bytes(hello)[10] == 0b11)
    }

    @Test func partialListsContentIDs() {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: 0xaa, count: 32))!)
        #expect(bytes(.partial([id])) == [0, 0, 0, 36, 0x15, 0, 0, 0, 1] + [UInt8](repeating: 0xaa, count: 32))
        #expect(bytes(.partial([])) == [0, 0, 0, 4, 0x15, 0, 0, 0, 0])
    }

    /// RESULTS without partial holders is byte for byte what clients before the swarm feature
    /// read; with them, a section follows the last group.
    @Test func resultsWithAPartialHolderSection() {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: 0xaa, count: 32))!)
        let hash = SHA256Hash(bytes: [UInt8](repeating: 0xbb, count: 32))!
        var result = SearchResult(contentID: id, size: 5, fileHash: hash, names: ["n"], peers: [Endpoint(host: "h", port: 1)])
        let group: [UInt8] = [UInt8](repeating: 0xaa, count: 32) + [0, 0, 0, 0, 0, 0, 0, 5]
            + [UInt8](repeating: 0xbb, count: 32)
            + [0, 1, 0, 1, 0x6e]            // one name: "n"
            + [0, 1, 0, 1, 0x68, 0, 1]      // one peer: "h" port 1
        let header: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1]  // total 1, one group
        let plain = header + group
        #expect(bytes(.searchResults(SearchResults(total: 1, results: [result])))
            == [0, 0, 0, UInt8(plain.count), 0x14] + plain)
        result.partialPeers = [Endpoint(host: "p", port: 0x0203)]
        let section: [UInt8] = [1, 0, 0, 0, 9]  // tag 1 (partial holders), 9 bytes
            + [0, 1]                            // one holder
            + [0, 0, 0, 1, 0x70, 2, 3]          // group 0, "p", port 515
        let withPartial = plain + section
        #expect(bytes(.searchResults(SearchResults(total: 1, results: [result])))
            == [0, 0, 0, UInt8(withPartial.count), 0x14] + withPartial)
    }

    @Test func resultsSectionsOfUnknownTagsAreSkippedAndBadOnesRefused() throws {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: 0xaa, count: 32))!)
        let hash = SHA256Hash(bytes: [UInt8](repeating: 0xbb, count: 32))!
        let result = SearchResult(contentID: id, size: 5, fileHash: hash, names: ["n"], peers: [])
        let plain = Array(SampleMessages.frame(.searchResults(SearchResults(total: 1, results: [result])))
            .readableBytesView.dropFirst(WireLimits.headerLength))
        func decode(_ extra: [UInt8]) throws -> Message {
            let payload = plain + extra
            var buffer = ByteBuffer(bytes: [0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xff), 0x14] + payload)
            var decoder = FrameDecoder()
            return try #require(try decoder.decode(buffer: &buffer))
        }
        // A later feature's section (tag 9) is skipped.
        #expect(try decode([9, 0, 0, 0, 2, 0xff, 0xff]) == .searchResults(SearchResults(total: 1, results: [result])))
        for bad in [
            [1, 0, 0, 0, 7, 0, 1, 0, 1, 0, 0, 0],                      // a holder of group 1 of 1
            [1, 0, 0, 0, 9],                                           // truncated
            [9, 0, 0, 0, 0, 9, 0, 0, 0, 0],                            // a tag twice
            [1, 0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 1, 0xff],             // a byte left inside the section
        ] as [[UInt8]] {
            #expect(throws: WireError.self, "\(bad)") { try decode(bad) }
        }
    }

    @Test func emptyMessages() {
        #expect(bytes(.ok) == [0, 0, 0, 0, 0x04])
        #expect(bytes(.exit) == [0, 0, 0, 0, 0x05])
        #expect(bytes(.heartbeat) == [0, 0, 0, 0, 0x12])
    }

    @Test func registerOfOneFile() {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: 1, count: 32))!)
        let hash = SHA256Hash(bytes: [UInt8](repeating: 2, count: 32))!
        let message = Message.register([SharedFile(name: "a:b", size: 5, contentID: id, fileHash: hash)])
        let expected: [UInt8] = [0, 0, 0, 81, 0x10, 0, 0, 0, 1, 0, 3, 0x61, 0x3a, 0x62, 0, 0, 0, 0, 0, 0, 0, 5]
            + [UInt8](repeating: 1, count: 32) + [UInt8](repeating: 2, count: 32)
        #expect(bytes(message) == expected)
    }

    @Test func everyKindHasAUniqueByteAndALimit() {
        let raw = Message.Kind.allCases.map(\.rawValue)
        #expect(Set(raw).count == raw.count)
        for kind in Message.Kind.allCases {
            #expect(WireLimits.maximumPayload(for: kind) >= 0)
        }
        // Every sample fits its kind's limit.
        for message in SampleMessages.all {
            #expect(SampleMessages.frame(message).readableBytes - WireLimits.headerLength
                <= WireLimits.maximumPayload(for: message.kind))
        }
    }
}
