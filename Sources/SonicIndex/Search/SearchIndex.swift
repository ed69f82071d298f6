import SonicCore
import SonicWire

/// The searchable copy of the index: every shared file as a small struct of ids, names and
/// content ids interned once, and a trigram index over folded names (``NameTable``). A pure
/// value: ``apply(_:)`` takes the changes ``SessionTable`` returns, ``search(_:excluding:)``
/// answers from what has been applied.
///
/// A file (a *holding*: this session shares this content under this name) lives in the slot
/// ``SessionTable`` gave it, and is linked into two lists, its name's and its content's, so
/// removing it, and finding all holders of a content, costs no scan.
public struct SearchIndex: Sendable {
    static let none = UInt32.max

    struct Holding: Sendable {
        var name: UInt32 = SearchIndex.none
        var content: UInt32 = SearchIndex.none
        var session: UInt64 = 0
        var previousOfName = SearchIndex.none, nextOfName = SearchIndex.none
        var previousOfContent = SearchIndex.none, nextOfContent = SearchIndex.none

        var isVacant: Bool { name == SearchIndex.none }
    }

    /// A content's details, inline (``PackedHash``).
    struct Content: Sendable {
        var key: PackedHash
        var size: UInt64
        var packedFileHash: PackedHash

        init(_ file: SharedFile) {
            key = PackedHash(file.contentID.hash)
            size = file.size
            packedFileHash = PackedHash(file.fileHash)
        }

        var id: ContentID { ContentID(key.hash) }
        var fileHash: SHA256Hash { packedFileHash.hash }
    }

    public let limits: IndexLimits
    var names = NameTable()
    /// Per name id: its first holding (``none`` when no live session shares it).
    var firstOfName: [UInt32] = []
    var contents: [Content] = []
    private var contentIDs = IDHashTable()
    /// Per content: its first holding.
    var firstOfContent: [UInt32] = []
    var holdings: [Holding] = []
    var addresses: [UInt64: Endpoint] = [:]
    public private(set) var fileCount = 0
    /// Distinct names in the tables, shared or not (for tests of the rebuild).
    var storedNameCount: Int { names.count }
    private var liveNames = 0
    /// Names nobody shares any more are kept (a seeder coming back reuses them) until they
    /// outnumber both the live names and this.
    var deadNamesBeforeRebuild = 65_536
    /// Whether ``apply(_:)`` rebuilds the index itself once ``wantsRebuild``. The search loop
    /// turns this off and rebuilds a copy beside itself instead (``rebuilt()``), so that
    /// searches do not wait for a rebuild.
    var rebuildsWhenApplying = true

    /// True when names nobody shares outnumber the live ones (and ``deadNamesBeforeRebuild``):
    /// time to start over from the live holdings (``rebuilt()``).
    var wantsRebuild: Bool { names.count - liveNames > max(liveNames, deadNamesBeforeRebuild) }

    public init(limits: IndexLimits = IndexLimits()) {
        self.limits = limits
    }

    /// How many changes ahead ``apply(_:)`` asks for the hash-table slots an added file's
    /// name and content will probe.
    static let prefetchDistance = 8

    /// Applies `changes` in order.
    ///
    /// A registration's files are new names and contents scattered through tables of
    /// millions, so each lookup misses the cache: the hashes are computed a few changes ahead
    /// and their slots prefetched, so that the misses of several files overlap.
    public mutating func apply(_ changes: [IndexChange]) {
        let keys = changes.map { change -> LookupKeys? in
            guard case .add(_, _, let file) = change else { return nil }
            return LookupKeys(name: NameTable.Hashes(file.name), content: PackedHash(file.contentID.hash).hashValue)
        }
        for i in 0..<(changes.count + Self.prefetchDistance) {
            if i < changes.count, let ahead = keys[i] {
                names.prefetch(ahead.name)
                contentIDs.prefetch(hash: ahead.content)
            }
            let now = i - Self.prefetchDistance
            if now >= 0 { apply(changes[now], keys: keys[now]) }
        }
    }

    public mutating func apply(_ change: IndexChange) {
        apply(change, keys: nil)
    }

    /// The hashes an added file's name and content id are looked up under.
    private struct LookupKeys {
        var name: NameTable.Hashes
        var content: Int
    }

    /// `keys`: the hashes of an added file's name and content id, if already computed.
    private mutating func apply(_ change: IndexChange, keys: LookupKeys?) {
        switch change {
        case .connect(let session, let address):
            addresses[session] = address
        case .disconnect(let session):
            addresses[session] = nil
        case .add(let slot, let session, let file):
            add(slot: slot, session: session, name: file.name, content: Content(file), keys: keys)
        case .remove(let slot):
            remove(slot: slot)
        }
        if rebuildsWhenApplying && wantsRebuild { self = rebuilt() }
    }

    /// The file in `slot`, if any (for ``IndexRegistry/files(of:)``).
    func file(in slot: UInt32) -> SharedFile? {
        guard Int(slot) < holdings.count, !holdings[Int(slot)].isVacant else { return nil }
        let h = holdings[Int(slot)]
        let c = contents[Int(h.content)]
        return SharedFile(name: names[h.name], size: c.size, contentID: c.id, fileHash: c.fileHash)
    }

    // MARK: Holdings

    private mutating func add(slot: UInt32, session: UInt64, name nameText: String, content details: Content,
                              keys: LookupKeys? = nil) {
        remove(slot: slot)
        let name = names.intern(nameText, hashes: keys?.name)
        if Int(name) == firstOfName.count { firstOfName.append(Self.none) }
        if firstOfName[Int(name)] == Self.none { liveNames += 1 }
        let content = intern(details, hash: keys?.content)
        while holdings.count <= Int(slot) { holdings.append(Holding()) }
        var h = Holding(name: name, content: content, session: session)
        h.nextOfName = firstOfName[Int(name)]
        h.nextOfContent = firstOfContent[Int(content)]
        if h.nextOfName != Self.none { holdings[Int(h.nextOfName)].previousOfName = slot }
        if h.nextOfContent != Self.none { holdings[Int(h.nextOfContent)].previousOfContent = slot }
        firstOfName[Int(name)] = slot
        firstOfContent[Int(content)] = slot
        holdings[Int(slot)] = h
        fileCount += 1
    }

    private mutating func remove(slot: UInt32) {
        guard Int(slot) < holdings.count, !holdings[Int(slot)].isVacant else { return }
        let h = holdings[Int(slot)]
        if h.previousOfName == Self.none { firstOfName[Int(h.name)] = h.nextOfName }
        else { holdings[Int(h.previousOfName)].nextOfName = h.nextOfName }
        if h.nextOfName != Self.none { holdings[Int(h.nextOfName)].previousOfName = h.previousOfName }
        if h.previousOfContent == Self.none { firstOfContent[Int(h.content)] = h.nextOfContent }
        else { holdings[Int(h.previousOfContent)].nextOfContent = h.nextOfContent }
        if h.nextOfContent != Self.none { holdings[Int(h.nextOfContent)].previousOfContent = h.previousOfContent }
        if firstOfName[Int(h.name)] == Self.none { liveNames -= 1 }
        holdings[Int(slot)] = Holding()
        fileCount -= 1
    }

    /// The content's id, adding it if new. The first registration of a content id gives its
    /// size and file hash (as a group's details always have).
    private mutating func intern(_ content: Content, hash: Int?) -> UInt32 {
        let hash = hash ?? content.key.hashValue
        if let id = contentIDs.first(hash: hash, where: { contents[Int($0)].key == content.key }) {
            if firstOfContent[Int(id)] == Self.none { contents[Int(id)] = content }
            return id
        }
        let id = UInt32(contents.count)
        contents.append(content)
        firstOfContent.append(Self.none)
        contentIDs.insert(id, hash: hash)
        return id
    }

    /// A copy holding only the live holdings, in the same slots: names and contents nobody
    /// shares any more are dropped (their ids would otherwise stay in the tables and posting
    /// lists for good). Non-mutating, so that it can run on a snapshot beside the searches.
    func rebuilt() -> SearchIndex {
        var fresh = SearchIndex(limits: limits)
        fresh.addresses = addresses
        fresh.deadNamesBeforeRebuild = deadNamesBeforeRebuild
        fresh.rebuildsWhenApplying = rebuildsWhenApplying
        for (slot, h) in holdings.enumerated() where !h.isVacant {
            fresh.add(slot: UInt32(slot), session: h.session, name: names[h.name], content: contents[Int(h.content)])
        }
        return fresh
    }
}
