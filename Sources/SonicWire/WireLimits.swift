import SonicCore

/// Hard limits of the protocol (docs/PROTOCOL.md, "Limits"). A frame longer than its
/// kind's limit is refused from its header alone, before any byte of it is buffered.
public enum WireLimits {
    /// Frame header: 4-byte length + 1-byte kind.
    public static let headerLength = 5
    /// Raw bytes carried by one DATA block at most (256 KiB).
    public static let maximumBlockLength = 256 * 1024
    /// Longest string field (names, queries, messages): 4096 bytes of UTF-8.
    public static let maximumStringLength = 4096
    /// Files in one REGISTER or UNREGISTER frame.
    public static let maximumFilesPerFrame = 4096
    /// Result groups in one RESULTS frame.
    public static let maximumResultsPerFrame = 1000
    /// Default page size of a search.
    public static let defaultSearchResults: UInt32 = 1000
    /// Peers listed per result group.
    public static let maximumPeersPerResult = 256
    /// Partial holders listed in one RESULTS frame, over all its groups.
    public static let maximumPartialPeersPerFrame = 1024
    /// Contents one session may hold in part at once (PARTIAL).
    public static let maximumPartialContents = 1024
    /// The longest host string a partial holder is listed with: the index lists the address
    /// it observed, an IPv4 or IPv6 literal.
    public static let maximumListedHostLength = 64

    /// Why a user-given string cannot be sent: longer than a string field holds.
    public struct StringTooLong: Error, CustomStringConvertible, Equatable, Sendable {
        public var what: String
        public var bytes: Int
        public var description: String {
            "\(what) is \(bytes) bytes of UTF-8; the protocol allows at most \(WireLimits.maximumStringLength)"
        }
    }

    /// Checks a string that came from a user (a query, a name) before it is encoded: the
    /// encoder treats an over-long string as a programming error.
    public static func checkString(_ value: String, what: String) throws(StringTooLong) {
        let bytes = value.utf8.count
        guard bytes <= maximumStringLength else { throw StringTooLong(what: what, bytes: bytes) }
    }

    /// Bytes a REGISTER or UNREGISTER frame may spend per file on average (names are short
    /// in practice; the announcer splits by bytes as well as by count).
    public static let registerBytesPerFile = 512
    /// Room above a DATA block's raw length: the encoder never sends a deflated block larger
    /// than the raw one, so this is slack, not a budget.
    public static let dataSlack = 64

    /// Largest payload (after the kind byte) accepted for each kind, from ``WireSize``.
    public static func maximumPayload(for kind: Message.Kind) -> Int {
        switch kind {
        case .hello, .welcome: 1024
        case .challenge: WireSize.challenge
        case .auth: Challenge.proofLength
        case .error: WireSize.errorFixed + maximumStringLength
        case .ok, .exit, .heartbeat: 0
        case .register, .unregister: WireSize.listCount + maximumFilesPerFrame * registerBytesPerFile
        case .search: WireSize.searchFixed + maximumStringLength
        case .searchResults: 8 << 20
        case .partial: WireSize.listCount + maximumPartialContents * WireSize.hash
        case .manifestRequest: WireSize.hash
        case .manifest: WireSize.hash + Manifest.headerLength + Manifest.maximumPieceCount * WireSize.hash
        case .obtain: WireSize.obtainFixed + maximumStringLength
        case .obtainRange: WireSize.obtainRange
        case .data: WireSize.dataBlockHeader + maximumBlockLength + dataSlack
        case .end, .cancel: 4
        case .bitfield: WireSize.hash + 4 + PieceBitfield.length(pieceCount: Manifest.maximumPieceCount)
        case .have: WireSize.hash + 4
        }
    }
}
