import SonicCore
import SonicWire

/// Picks which content to download among the search results for a name.
///
/// Different peers may share different bytes under one name; a download never mixes them.
/// With one content the choice is obvious. With several, a content shared under exactly the
/// name asked for wins over contents that only match by their last path component
/// (`readme.txt` over `sub/readme.txt`); otherwise the user picks with `--hash PREFIX` (a
/// prefix of the file's SHA-256, as `sonic-search` shows it, or of the content id; a whole
/// SHA-256 works too).
public enum ContentChoice: Equatable, Sendable {
    case chosen(SearchResult)
    case notFound
    case ambiguous([SearchResult])
    case noMatchForHash([SearchResult])

    public static func choose(from results: [SearchResult], name: String, hashPrefix: String?) -> ContentChoice {
        let candidates = results.filter { !$0.peers.isEmpty }
        guard !candidates.isEmpty else { return .notFound }
        if let prefix = hashPrefix?.lowercased(), !prefix.isEmpty {
            let matching = candidates.filter { $0.contentID.hash.hasHexPrefix(prefix) || $0.fileHash.hasHexPrefix(prefix) }
            switch matching.count {
            case 0: return .noMatchForHash(candidates)
            case 1: return .chosen(matching[0])
            default: return .ambiguous(matching)
            }
        }
        if candidates.count == 1 { return .chosen(candidates[0]) }
        let exact = candidates.filter { $0.names.contains(name) }
        return exact.count == 1 ? .chosen(exact[0]) : .ambiguous(candidates)
    }
}
