import NIOCore
import SonicCore
import SonicWire
import Testing

/// Every size the code computes (frame limits, page budgets, wire-byte counts) equals what
/// the encoder really writes.
@Suite struct WireSizeTests {
    func payloadLength(_ message: Message) -> Int {
        var buffer = ByteBuffer()
        buffer.writeFrame(message)
        return buffer.readableBytes - WireLimits.headerLength
    }

    func frameLength(_ message: Message) -> Int {
        payloadLength(message) + WireLimits.headerLength
    }

    static let hash = SHA256Hash.of([1])
    static let id = ContentID(SHA256Hash.of([2]))
    static let longest = String(repeating: "é", count: WireLimits.maximumStringLength / 2)

    @Test func dataFramesCountWhatCrossesTheWire() {
        for count in [0, 1, 1000, WireLimits.maximumBlockLength] {
            let block = DataBlock(requestID: 7, encoding: .raw, rawLength: UInt32(count),
                                  payload: ByteBuffer(bytes: [UInt8](repeating: 1, count: count)))
            #expect(frameLength(.data(block)) == WireSize.dataFrame(payload: count))
        }
    }

    @Test func registrationsAndResultsAreBudgetedExactly() {
        let files = ["a", "ünï cødé/名前.txt", Self.longest].map {
            SharedFile(name: $0, size: 9, contentID: Self.id, fileHash: Self.hash)
        }
        #expect(payloadLength(.register(files))
                == WireSize.listCount + files.reduce(0) { $0 + WireSize.registeredFile(nameBytes: $1.name.utf8.count) })
        let names = files.map(\.name)
        #expect(payloadLength(.unregister(names)) == WireSize.listCount + names.reduce(0) { $0 + WireSize.string($1) })
        let groups = [
            SearchResult(contentID: Self.id, size: 1, fileHash: Self.hash, names: ["x", "y/z"],
                         peers: [Endpoint(host: "127.0.0.1", port: 1), Endpoint(host: "::1", port: 65535)]),
            SearchResult(contentID: Self.id, size: 2, fileHash: Self.hash, names: [Self.longest], peers: []),
        ]
        #expect(payloadLength(.searchResults(SearchResults(total: 2, results: groups)))
                == WireSize.resultsHeader + groups.reduce(0) { $0 + $1.encodedLength })
    }

    @Test func theFixedSizeKindsAreExactlyTheirLimits() {
        let nonce = [UInt8](repeating: 1, count: Hello.nonceLength)
        let proof = [UInt8](repeating: 2, count: Challenge.proofLength)
        let exact: [Message] = [
            .challenge(Challenge(nonce: nonce, proof: proof)),
            .auth(proof: proof),
            .manifestRequest(Self.id),
            .obtainRange(RangeRequest(requestID: 1, contentID: Self.id, offset: 2, length: 3)),
            .end(requestID: 4),
            .cancel(requestID: 5),
            .have(Self.id, piece: 6),
            .bitfield(Self.id, PieceBitfield(pieceCount: Manifest.maximumPieceCount, pieces: [0, 16_383])),
            // The longest string each string-carrying kind can hold.
            .error(ErrorMessage(.notFound, requestID: 1, Self.longest)),
            .search(SearchRequest(mode: .keyword, query: Self.longest)),
            .obtain(requestID: 1, name: Self.longest),
            .partial((0..<WireLimits.maximumPartialContents).map { ContentID(SHA256Hash.of([UInt8(truncatingIfNeeded: $0)])) }),
        ]
        for message in exact {
            #expect(payloadLength(message) == WireLimits.maximumPayload(for: message.kind), "\(message.kind)")
        }
    }

    /// The room a page keeps for partial holders is exactly the largest section: the most
    /// holders a frame lists, each with the longest host the index lists.
    @Test func theLargestPartialHolderSectionFitsTheRoomKeptForIt() {
        let group = SearchResult(contentID: Self.id, size: 1, fileHash: Self.hash, names: ["x"], peers: [])
        let host = String(repeating: "h", count: WireLimits.maximumListedHostLength)
        let perGroup = WireLimits.maximumPeersPerResult
        let groups = (0..<(WireLimits.maximumPartialPeersPerFrame / perGroup)).map { _ in
            var g = group
            g.partialPeers = (0..<perGroup).map { Endpoint(host: host, port: 1000 + $0) }
            return g
        }
        let plain = SearchResults(total: UInt32(groups.count), results: groups.map { var g = $0; g.partialPeers = []; return g })
        let section = payloadLength(.searchResults(SearchResults(total: plain.total, results: groups)))
            - payloadLength(.searchResults(plain))
        #expect(section == WireSize.partialSectionMaximum)
        #expect(WireSize.partialPeer(Endpoint(host: host, port: 1)) * WireLimits.maximumPartialPeersPerFrame
            + WireSize.sectionHeader + 2 == section)
        #expect(WireSize.resultsPageBudget + WireSize.resultsHeader + section == WireLimits.maximumPayload(for: .searchResults))
    }

    @Test func theLargestManifestFitsItsLimitExactly() {
        let pieceSize = Manifest.pieceSize(forFileSize: UInt64(Manifest.maximumPieceCount) << 20)
        let count = Manifest.maximumPieceCount
        let manifest = Manifest(fileSize: UInt64(count) * UInt64(pieceSize), pieceSize: pieceSize, fileHash: Self.hash,
                                pieceHashes: Array(repeating: Self.hash, count: count))
        #expect(payloadLength(.manifest(manifest.contentID, manifest.canonicalEncoding))
                == WireLimits.maximumPayload(for: .manifest))
    }
}
