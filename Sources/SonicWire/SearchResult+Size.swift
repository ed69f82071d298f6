extension SearchResult {
    /// Bytes this group takes in a RESULTS frame, so a server can fill pages up to the frame
    /// limit without ever building a frame it would refuse to send.
    public var encodedLength: Int {
        32 + 8 + 32 + 2 + names.reduce(0) { $0 + 2 + $1.utf8.count }
            + 2 + peers.reduce(0) { $0 + 2 + $1.host.utf8.count + 2 }
    }
}
