import SonicCore
import SonicWire

/// Picks which content to download among the search results for a name.
///
/// Different peers may share different bytes under one name; a download never mixes them.
/// With one content the choice is obvious; with several the user picks with `--hash PREFIX`
/// (a prefix of the content id or of the file's SHA-256).
public enum ContentChoice: Equatable, Sendable {
    case chosen(SearchResult)
    case notFound
    case ambiguous([SearchResult])
    case noMatchForHash([SearchResult])

    public static func choose(from results: [SearchResult], hashPrefix: String?) -> ContentChoice {
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
        return candidates.count == 1 ? .chosen(candidates[0]) : .ambiguous(candidates)
    }
}
