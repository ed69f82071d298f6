import NIOCore
import PostgresNIO
import SonicCore
import SonicIndex

extension PostgresIndexStore {
    public var isShared: Bool { true }

    /// Stores the peer id on the session's row, so that other index processes can list it.
    public func recordPeerID(_ peerID: PeerID, of session: UInt64) async throws {
        let process = try await processID.value()
        try await client.query(
            """
            UPDATE sonic_sessions SET peer_id = \(ByteBuffer(bytes: peerID.hash.bytes))
            WHERE process = \(process) AND session = \(Int64(bitPattern: session))
            """, logger: logger)
    }

    /// The peer ids on the rows of sessions serving at `addresses`, whichever process owns them.
    public func peerIDs(at addresses: Set<Endpoint>) async throws -> [Endpoint: PeerID] {
        guard !addresses.isEmpty else { return [:] }
        let hosts = Array(Set(addresses.map(\.host)))
        let ports = Array(Set(addresses.map { Int32($0.port) }))
        let rows = try await client.query(
            """
            SELECT host, port, peer_id FROM sonic_sessions
            WHERE peer_id IS NOT NULL AND host = ANY(\(hosts)) AND port = ANY(\(ports))
            """, logger: logger)
        var found: [Endpoint: PeerID] = [:]
        for try await (host, port, peerID) in rows.decode((String, Int32, ByteBuffer).self) {
            let address = Endpoint(host: host, port: Int(port))
            guard addresses.contains(address) else { continue }
            guard let hash = SHA256Hash(bytes: peerID.readableBytesView) else {
                throw PostgresStoreError("a stored peer id is not 32 bytes")
            }
            found[address] = PeerID(hash)
        }
        return found
    }
}
