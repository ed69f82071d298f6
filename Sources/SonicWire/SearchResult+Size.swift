extension SearchResult {
    /// Bytes this group takes in a RESULTS frame, so a server can fill pages up to the frame
    /// limit without ever building a frame it would refuse to send.
    public var encodedLength: Int { WireSize.searchResult(self) }
}
