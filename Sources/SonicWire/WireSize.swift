import SonicCore

/// The sizes of the protocol's fields, named once (docs/PROTOCOL.md, "Messages"). Frame
/// limits, page budgets and wire-byte counts are derived from these; `WireSizeTests` checks
/// each against the bytes the encoder writes.
public enum WireSize {
    /// `u16 length` before every string's UTF-8.
    public static let stringPrefix = 2
    public static let hash = SHA256Hash.byteCount
    public static let requestID = 4
    /// `u32 count` before a list of files or names.
    public static let listCount = 4
    /// A file size or offset: `u64`.
    public static let size64 = 8

    /// A string field holding `string`.
    public static func string(_ string: String) -> Int { stringPrefix + string.utf8.count }

    /// DATA before its payload: request id, encoding (`u8`), raw length (`u32`).
    public static let dataBlockHeader = requestID + 1 + 4
    /// Bytes a DATA frame takes on the wire, frame header included: what rate limits count.
    public static func dataFrame(payload: Int) -> Int { WireLimits.headerLength + dataBlockHeader + payload }

    /// One file in REGISTER: name, size, content id, file SHA-256.
    public static func registeredFile(nameBytes: Int) -> Int { stringPrefix + nameBytes + size64 + hash + hash }

    /// RESULTS before its groups: total (`u32`) and group count (`u32`).
    public static let resultsHeader = 4 + 4
    /// An extension section of RESULTS before its bytes: tag (`u8`) and length (`u32`).
    public static let sectionHeader = 1 + 4
    /// One partial holder in RESULTS' partial-holder section: group index (`u16`), host, port.
    public static func partialPeer(_ endpoint: Endpoint) -> Int { 2 + string(endpoint.host) + 2 }
    /// The most a partial-holder section can take: page budgets leave this much room, so the
    /// index can add partial holders to a full page (``WireLimits/maximumPartialPeersPerFrame``
    /// entries with hosts of at most ``WireLimits/maximumListedHostLength`` bytes).
    public static let partialSectionMaximum = sectionHeader + 2
        + WireLimits.maximumPartialPeersPerFrame * (2 + stringPrefix + WireLimits.maximumListedHostLength + 2)
    /// Bytes a page of RESULTS groups may take: the frame limit less the header and the room
    /// kept for the partial-holder section.
    public static let resultsPageBudget = WireLimits.maximumPayload(for: .searchResults) - resultsHeader
        - partialSectionMaximum
    /// One group in RESULTS.
    public static func searchResult(_ r: SearchResult) -> Int {
        hash + size64 + hash
            + 2 + r.names.reduce(0) { $0 + string($1) }
            + 2 + r.peers.reduce(0) { $0 + string($1.host) + 2 }
    }

    /// ERROR without its message: code (`u16`), request id, the message's length prefix.
    public static let errorFixed = 2 + requestID + stringPrefix
    /// SEARCH without its query: mode (`u8`), the query's length prefix, offset and limit (`u32`).
    public static let searchFixed = 1 + stringPrefix + 4 + 4
    /// OBTAIN without its name: request id and the name's length prefix.
    public static let obtainFixed = requestID + stringPrefix
    /// OBTAIN-RANGE: request id, content id, offset, length.
    public static let obtainRange = requestID + hash + size64 + size64
    /// CHALLENGE: the server's nonce and proof.
    public static let challenge = Hello.nonceLength + Challenge.proofLength
}
