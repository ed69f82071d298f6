import SonicCore
import SonicWire

/// Who is downloading what (swarm feature, docs/PROTOCOL.md, "Swarm"): the contents each
/// seeder session holds in part, and, for the search answers, each content's partial holders
/// in the order they announced it. A pure value; the stores keep it behind their own lock.
public struct PartialHolderTable: Sendable {
    public enum AnnouncementError: Error, Equatable, CustomStringConvertible {
        case noAddress
        case tooManyContents(limit: Int)

        public var description: String {
            switch self {
            case .noAddress: "announce a listening port in HELLO before announcing partial holdings"
            case .tooManyContents(let limit): "a peer may hold at most \(limit) contents in part"
            }
        }
    }

    private struct Holder: Sendable {
        var address: Endpoint
        var contents: Set<ContentID>
    }

    private var holders: [UInt64: Holder] = [:]
    private var holdersByContent: [ContentID: [UInt64]] = [:]

    public init() {}

    /// Contents held in part by some session, counted once per session.
    public var holdingCount: Int { holders.values.reduce(0) { $0 + $1.contents.count } }

    /// Replaces the set of contents `session`, reachable at `address`, holds in part.
    public mutating func announce(_ session: UInt64, address: Endpoint?, contents: [ContentID])
        throws(AnnouncementError) {
        guard let wanted = try Self.validated(contents, hasAddress: address != nil), let address else { return }
        let before = holders[session]?.contents ?? []
        for gone in before.subtracting(wanted) { removeHolder(session, of: gone) }
        for added in wanted.subtracting(before) { holdersByContent[added, default: []].append(session) }
        holders[session] = wanted.isEmpty ? nil : Holder(address: address, contents: wanted)
    }

    /// The contents a session announces, checked (both stores): at most the limit, and none
    /// from a session without a listening port. Nil: nothing to store (an empty set from such
    /// a session).
    public static func validated(_ contents: [ContentID], hasAddress: Bool) throws(AnnouncementError) -> Set<ContentID>? {
        let wanted = Set(contents)
        guard wanted.count <= WireLimits.maximumPartialContents else {
            throw .tooManyContents(limit: WireLimits.maximumPartialContents)
        }
        guard hasAddress else {
            guard wanted.isEmpty else { throw .noAddress }
            return nil
        }
        return wanted
    }

    /// Forgets everything `session` held in part (it disconnected).
    public mutating func remove(_ session: UInt64) {
        guard let holder = holders.removeValue(forKey: session) else { return }
        for content in holder.contents { removeHolder(session, of: content) }
    }

    /// The partial holders of each of `contents`, leaving out `requester`, at most
    /// ``WireLimits/maximumPeersPerResult`` per content, in announcement order.
    public func holders(of contents: [ContentID], excluding requester: UInt64) -> [ContentID: [Endpoint]] {
        var found: [ContentID: [Endpoint]] = [:]
        for content in contents where found[content] == nil {
            guard let sessions = holdersByContent[content] else { continue }
            var addresses: [Endpoint] = []
            var seen = Set<Endpoint>()
            for session in sessions where session != requester {
                guard let address = holders[session]?.address, seen.insert(address).inserted else { continue }
                addresses.append(address)
                if addresses.count == WireLimits.maximumPeersPerResult { break }
            }
            if !addresses.isEmpty { found[content] = addresses }
        }
        return found
    }

    private mutating func removeHolder(_ session: UInt64, of content: ContentID) {
        holdersByContent[content]?.removeAll { $0 == session }
        if holdersByContent[content]?.isEmpty == true { holdersByContent[content] = nil }
    }
}

extension SearchResults {
    /// Adds `partial` holders to the page's groups, as many as RESULTS' partial-holder section
    /// holds (``WireLimits/maximumPartialPeersPerFrame``, at most
    /// ``WireLimits/maximumPeersPerResult`` per group, hosts of listable length), in page order. A peer already listed as a complete holder of a group is not listed again.
    public mutating func addPartialPeers(_ partial: [ContentID: [Endpoint]]) {
        var room = WireLimits.maximumPartialPeersPerFrame
        for index in results.indices where room > 0 {
            let complete = Set(results[index].peers)
            let listable = (partial[results[index].contentID] ?? []).filter {
                !complete.contains($0) && $0.host.utf8.count <= WireLimits.maximumListedHostLength
            }
            results[index].partialPeers = Array(listable.prefix(min(room, WireLimits.maximumPeersPerResult)))
            room -= results[index].partialPeers.count
        }
    }
}
