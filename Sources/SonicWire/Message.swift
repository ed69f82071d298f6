import NIOCore
import SonicCore

/// Every message of the Sonic Share protocol (docs/PROTOCOL.md, "Messages").
///
/// One enum for index and peer connections alike: the frame format is shared, and the
/// session logic on each side decides which messages it accepts in which state.
public enum Message: Sendable, Equatable {
    // Session
    case hello(Hello)
    case welcome(Welcome)
    case error(ErrorMessage)
    case ok
    case exit
    case challenge(Challenge)
    case auth(proof: [UInt8])
    // Index
    case register([SharedFile])
    case unregister([String])
    case heartbeat
    case search(SearchRequest)
    case searchResults(SearchResults)
    /// The complete set of contents the sending seeder session now holds in part (swarm
    /// feature): it replaces the set sent before. An empty list withdraws them all.
    case partial([ContentID])
    // Peer
    case manifestRequest(ContentID)
    case manifest(ContentID, [UInt8])
    case obtain(requestID: UInt32, name: String)
    case obtainRange(RangeRequest)
    case data(DataBlock)
    case end(requestID: UInt32)
    case cancel(requestID: UInt32)
    /// The pieces of `ContentID` the sending peer holds (swarm feature).
    case bitfield(ContentID, PieceBitfield)
    /// The sending peer now holds one more piece of `ContentID` (swarm feature).
    case have(ContentID, piece: UInt32)

    /// The one-byte kind that starts every frame's payload.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 0x01
        case welcome = 0x02
        case error = 0x03
        case ok = 0x04
        case exit = 0x05
        case challenge = 0x06
        case auth = 0x07
        case register = 0x10
        case unregister = 0x11
        case heartbeat = 0x12
        case search = 0x13
        case searchResults = 0x14
        case partial = 0x15
        case manifestRequest = 0x20
        case manifest = 0x21
        case obtain = 0x22
        case obtainRange = 0x23
        case data = 0x24
        case end = 0x25
        case cancel = 0x26
        case bitfield = 0x27
        case have = 0x28
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .error: .error
        case .ok: .ok
        case .exit: .exit
        case .challenge: .challenge
        case .auth: .auth
        case .register: .register
        case .unregister: .unregister
        case .heartbeat: .heartbeat
        case .search: .search
        case .searchResults: .searchResults
        case .partial: .partial
        case .manifestRequest: .manifestRequest
        case .manifest: .manifest
        case .obtain: .obtain
        case .obtainRange: .obtainRange
        case .data: .data
        case .end: .end
        case .cancel: .cancel
        case .bitfield: .bitfield
        case .have: .have
        }
    }
}

extension Message.Kind: CustomStringConvertible {
    /// The command's name as written in docs and logs (`OBTAIN-RANGE`).
    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .welcome: "WELCOME"
        case .error: "ERROR"
        case .ok: "OK"
        case .exit: "EXIT"
        case .challenge: "CHALLENGE"
        case .auth: "AUTH"
        case .register: "REGISTER"
        case .unregister: "UNREGISTER"
        case .heartbeat: "HEARTBEAT"
        case .search: "SEARCH"
        case .searchResults: "RESULTS"
        case .partial: "PARTIAL"
        case .manifestRequest: "MANIFEST?"
        case .manifest: "MANIFEST"
        case .obtain: "OBTAIN"
        case .obtainRange: "OBTAIN-RANGE"
        case .data: "DATA"
        case .end: "END"
        case .cancel: "CANCEL"
        case .bitfield: "BITFIELD"
        case .have: "HAVE"
        }
    }
}

/// The role a connecting program plays; the index only lists files of `seeder` sessions
/// that announce a port.
public enum PeerRole: UInt8, Sendable {
    case client = 0
    case seeder = 1
}

/// Optional abilities, negotiated in HELLO / WELCOME as a bit set.
public struct Features: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The sender accepts (client) or may send (server) zlib-deflated data blocks.
    public static let deflate = Features(rawValue: 1 << 0)
    /// Swarm (docs/PROTOCOL.md, "Swarm"): the sender understands partial holders, BITFIELD,
    /// HAVE and the `not held` error.
    public static let swarm = Features(rawValue: 1 << 1)
}

/// First frame of every connection.
public struct Hello: Sendable, Equatable {
    public var version: UInt16
    public var role: PeerRole
    /// The TCP port the sender serves peers on (0: it serves nothing).
    public var listenPort: UInt16
    public var features: Features
    /// Random bytes for the members-only challenge (docs/PROTOCOL.md, "Handshake"); sent
    /// always, used only when the server has a secret.
    public var nonce: [UInt8]
    /// Free text for logs, e.g. `sonic-seed/0.1`.
    public var agent: String

    public static let nonceLength = 16

    public init(version: UInt16 = ProtocolVersion.current, role: PeerRole, listenPort: UInt16 = 0,
                features: Features = [], nonce: [UInt8] = [UInt8](repeating: 0, count: Hello.nonceLength),
                agent: String) {
        precondition(nonce.count == Hello.nonceLength)
        self.version = version
        self.role = role
        self.listenPort = listenPort
        self.features = features
        self.nonce = nonce
        self.agent = agent
    }
}

/// A members-only server's answer to HELLO: its own nonce, and its proof that it knows the
/// network secret (HMAC-SHA256 over both nonces). The client checks the proof, then answers
/// with AUTH carrying its own proof.
public struct Challenge: Sendable, Equatable {
    public static let proofLength = 32
    public var nonce: [UInt8]
    public var proof: [UInt8]

    public init(nonce: [UInt8], proof: [UInt8]) {
        precondition(nonce.count == Hello.nonceLength && proof.count == Challenge.proofLength)
        self.nonce = nonce
        self.proof = proof
    }
}

/// The answer to an accepted HELLO.
public struct Welcome: Sendable, Equatable {
    public var version: UInt16
    /// The session's id on the server (the index uses it as the peer id).
    public var sessionID: UInt64
    /// The features both sides will use (the intersection).
    public var features: Features

    public init(version: UInt16 = ProtocolVersion.current, sessionID: UInt64, features: Features = []) {
        self.version = version
        self.sessionID = sessionID
        self.features = features
    }
}

public enum ProtocolVersion {
    public static let current: UInt16 = 1
}

/// A failure reported to the other side. `requestID` 0 is about the connection (which the
/// sender then closes); any other value fails only that request.
public struct ErrorMessage: Sendable, Equatable, Error, CustomStringConvertible {
    public var code: ErrorCode
    public var requestID: UInt32
    public var message: String

    public init(_ code: ErrorCode, requestID: UInt32 = 0, _ message: String) {
        self.code = code
        self.requestID = requestID
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Error codes (docs/PROTOCOL.md, "Errors"). Unknown codes decode as `.unknown`.
public enum ErrorCode: Sendable, Equatable, CustomStringConvertible {
    case malformedFrame
    case frameTooLarge
    case unknownKind
    case versionMismatch
    case handshakeRequired
    case unexpectedMessage
    case notFound
    case rangeOutOfBounds
    case contentChanged
    case limitExceeded
    case notAuthorized
    case busy
    case timeout
    case internalError
    /// A range asked of a partial holder covers a piece it has not verified.
    case notHeld
    /// One side runs TLS and the other does not (`--tls on|off`); sent in clear text by a
    /// server that sees the other kind of first bytes, before it closes.
    case tlsMismatch
    case unknown(UInt16)

    public var rawValue: UInt16 {
        switch self {
        case .malformedFrame: 1
        case .frameTooLarge: 2
        case .unknownKind: 3
        case .versionMismatch: 4
        case .handshakeRequired: 5
        case .unexpectedMessage: 6
        case .notFound: 7
        case .rangeOutOfBounds: 8
        case .contentChanged: 9
        case .limitExceeded: 10
        case .notAuthorized: 11
        case .busy: 12
        case .timeout: 13
        case .internalError: 14
        case .notHeld: 15
        case .tlsMismatch: 16
        case .unknown(let v): v
        }
    }

    public init(rawValue: UInt16) {
        switch rawValue {
        case 1: self = .malformedFrame
        case 2: self = .frameTooLarge
        case 3: self = .unknownKind
        case 4: self = .versionMismatch
        case 5: self = .handshakeRequired
        case 6: self = .unexpectedMessage
        case 7: self = .notFound
        case 8: self = .rangeOutOfBounds
        case 9: self = .contentChanged
        case 10: self = .limitExceeded
        case 11: self = .notAuthorized
        case 12: self = .busy
        case 13: self = .timeout
        case 14: self = .internalError
        case 15: self = .notHeld
        case 16: self = .tlsMismatch
        default: self = .unknown(rawValue)
        }
    }

    public var description: String {
        switch self {
        case .malformedFrame: "malformed frame"
        case .frameTooLarge: "frame too large"
        case .unknownKind: "unknown message kind"
        case .versionMismatch: "protocol version mismatch"
        case .handshakeRequired: "HELLO required first"
        case .unexpectedMessage: "unexpected message"
        case .notFound: "not found"
        case .rangeOutOfBounds: "range out of bounds"
        case .contentChanged: "content changed"
        case .limitExceeded: "limit exceeded"
        case .notAuthorized: "not authorized"
        case .busy: "busy"
        case .timeout: "timeout"
        case .internalError: "internal error"
        case .notHeld: "piece not held"
        case .tlsMismatch: "TLS mismatch"
        case .unknown(let v): "error \(v)"
        }
    }
}

/// One shared file as the index knows it.
public struct SharedFile: Sendable, Hashable {
    public var name: String
    public var size: UInt64
    public var contentID: ContentID
    public var fileHash: SHA256Hash

    public init(name: String, size: UInt64, contentID: ContentID, fileHash: SHA256Hash) {
        self.name = name
        self.size = size
        self.contentID = contentID
        self.fileHash = fileHash
    }
}

public struct SearchRequest: Sendable, Equatable {
    public enum Mode: UInt8, Sendable {
        /// The whole name, or its last path component, equals the query.
        case exact = 0
        /// Every whitespace-separated word of the query appears in the name (case-insensitive);
        /// an empty query matches everything.
        case keyword = 1
    }

    public var mode: Mode
    public var query: String
    /// Paging: skip this many result groups, return at most `limit`.
    public var offset: UInt32
    public var limit: UInt32

    public init(mode: Mode, query: String, offset: UInt32 = 0, limit: UInt32 = WireLimits.defaultSearchResults) {
        self.mode = mode
        self.query = query
        self.offset = offset
        self.limit = limit
    }
}

/// One distinct content matching a search, with every live peer that holds it.
public struct SearchResult: Sendable, Equatable {
    public var contentID: ContentID
    public var size: UInt64
    public var fileHash: SHA256Hash
    /// The names this content is shared under that matched (sorted, at least one).
    public var names: [String]
    /// Peers that hold the whole content.
    public var peers: [Endpoint]
    /// Peers downloading it that serve the pieces they have verified so far (swarm feature:
    /// sent only to sessions that negotiated it, docs/PROTOCOL.md, "Swarm").
    public var partialPeers: [Endpoint]
    /// The peer id the index learned from each peer's TLS handshake, one per entry of
    /// ``peers`` (nil: not known, e.g. a peer on a plain connection); empty when the index
    /// sent none (RESULTS section 2, docs/PROTOCOL.md).
    public var peerIDs: [PeerID?]
    /// The same for ``partialPeers``.
    public var partialPeerIDs: [PeerID?]

    public init(contentID: ContentID, size: UInt64, fileHash: SHA256Hash, names: [String], peers: [Endpoint],
                partialPeers: [Endpoint] = [], peerIDs: [PeerID?] = [], partialPeerIDs: [PeerID?] = []) {
        self.contentID = contentID
        self.size = size
        self.fileHash = fileHash
        self.names = names
        self.peers = peers
        self.partialPeers = partialPeers
        self.peerIDs = peerIDs
        self.partialPeerIDs = partialPeerIDs
    }

    /// The peer id the index gave for the peer at `index` in ``peers``, if any.
    public func peerID(at index: Int) -> PeerID? {
        peerIDs.indices.contains(index) ? peerIDs[index] : nil
    }

    /// The peer id the index gave for the peer at `index` in ``partialPeers``, if any.
    public func partialPeerID(at index: Int) -> PeerID? {
        partialPeerIDs.indices.contains(index) ? partialPeerIDs[index] : nil
    }

    /// Each listed peer, whole or partial holder, with the peer id the index gave for it.
    public var peerPins: [Endpoint: PeerID] {
        var pins: [Endpoint: PeerID] = [:]
        for (i, peer) in peers.enumerated() { if let id = peerID(at: i) { pins[peer] = id } }
        for (i, peer) in partialPeers.enumerated() { if let id = partialPeerID(at: i) { pins[peer] = id } }
        return pins
    }

    /// The name to show and to save under.
    public var name: String { names.first ?? "" }
}

public struct SearchResults: Sendable, Equatable {
    /// How many groups match in all (before paging).
    public var total: UInt32
    public var results: [SearchResult]

    public init(total: UInt32, results: [SearchResult]) {
        self.total = total
        self.results = results
    }
}

/// The tags of RESULTS' extension sections (docs/PROTOCOL.md, "Search").
public enum ResultsSection: UInt8, Sendable {
    /// Partial holders of the page's groups (swarm feature).
    case partialPeers = 1
    /// The peer id of every listed peer, in the frame's listing order: the groups' peers
    /// group by group, then the partial holders in section 1's order. Each is `u8 n` (0:
    /// unknown, or 32), then `n` bytes, the SHA-256 behind the peer id. Sent only when some
    /// listed peer's id is known (TLS).
    case peerIDs = 2
}

/// `OBTAIN-RANGE`: `length` bytes of the content `contentID` starting at `offset`.
public struct RangeRequest: Sendable, Equatable {
    public var requestID: UInt32
    public var contentID: ContentID
    public var offset: UInt64
    public var length: UInt64

    public init(requestID: UInt32, contentID: ContentID, offset: UInt64, length: UInt64) {
        self.requestID = requestID
        self.contentID = contentID
        self.offset = offset
        self.length = length
    }
}

/// A block of file data answering OBTAIN or OBTAIN-RANGE. Blocks of one request arrive
/// in order; `rawLength` is the block's length once inflated, checked before inflating.
public struct DataBlock: Sendable, Equatable {
    public enum Encoding: UInt8, Sendable {
        case raw = 0
        case deflate = 1
    }

    public var requestID: UInt32
    public var encoding: Encoding
    public var rawLength: UInt32
    public var payload: ByteBuffer

    public init(requestID: UInt32, encoding: Encoding, rawLength: UInt32, payload: ByteBuffer) {
        self.requestID = requestID
        self.encoding = encoding
        self.rawLength = rawLength
        self.payload = payload
    }
}
