import SonicCore
import SonicWire

// The JSON bodies of the API, as docs/openapi.json describes them. Keys are snake_case.

struct IndexState: Codable, Sendable, Equatable {
    var address: String
    var reachable: Bool
    var error: String?
}

struct PeerStatus: Codable, Sendable {
    var address: String
    /// This peer's id (the hash of its TLS key); nil with `--tls off`.
    var peer_id: String?
    var http: String
    var folder_name: String
    var version: String
    var indexes: [IndexState]
    var shared_files: Int
    var shared_bytes: UInt64
    var downloads_active: Int
    var downloads_total: Int
    var upload_rate: Double
    var download_rate: Double
    var uploaded_bytes: UInt64
    var downloaded_bytes: UInt64
}

struct SharedFileInfo: Codable, Sendable, Equatable {
    var name: String
    var size: UInt64
    var sha256: String
    var content_id: String
    var bytes_served: UInt64
}

struct FileList: Codable, Sendable {
    var files: [SharedFileInfo]
}

struct UploadResult: Codable, Sendable {
    var name: String
    var size: UInt64
    var sha256: String
}

/// One search result group, with the same keys as `sonic-search --json`, plus a peer count.
struct SearchHit: Codable, Sendable {
    var name: String
    var names: [String]
    var size: UInt64
    var content_id: String
    var sha256: String
    var peers: [String]
    var peer_count: Int

    init(_ r: SearchResult) {
        name = r.name
        names = r.names
        size = r.size
        content_id = r.contentID.hex
        sha256 = r.fileHash.hex
        peers = r.peers.map(\.description)
        peer_count = r.peers.count
    }
}

struct SearchPage: Codable, Sendable {
    var query: String
    var total: Int
    var offset: Int
    var limit: Int
    var results: [SearchHit]
}

struct DownloadRequest: Codable, Sendable {
    var content_id: String?
    var name: String?
}

struct PeerBytes: Codable, Sendable, Equatable {
    var address: String
    var bytes: UInt64
    var banned: Bool
}

struct DownloadInfo: Codable, Sendable, Equatable {
    var id: String
    var name: String
    /// Where the file is (or will be) in the shared folder, as a shared name.
    var path: String
    var size: UInt64
    var sha256: String?
    var state: DownloadState
    var verified_bytes: UInt64
    var rate: Double
    var eta_seconds: Double?
    var active_peers: Int
    var peers: [PeerBytes]
    var error: String?
}

enum DownloadState: String, Codable, Sendable {
    case queued, running, paused, completed, failed
}

struct DownloadList: Codable, Sendable {
    var downloads: [DownloadInfo]
}

struct LoginRequest: Codable, Sendable {
    var token: String
}

struct IndexWebStatus: Codable, Sendable {
    var address: String
    /// The index's id (the hash of its TLS key); nil with `--tls off`.
    var peer_id: String?
    var peers_online: Int
    var files: Int
    var searches_total: UInt64
    var searches_per_second: Double
}
