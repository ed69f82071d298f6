import NIOCore
import SonicCore
import Synchronization

/// Deflated blocks kept for the next downloader, so a seeder deflates each block of a
/// popular file once instead of once per downloader (`--block-cache`). Bounded by the bytes
/// it holds; when full, the oldest entries go first. It also remembers, at no memory cost,
/// which blocks did not shrink enough, so they are sent raw without another try.
///
/// A block is identified by content id, offset, length and level: what a downloader asks
/// for is the manifest's content, so an entry stays right whatever happens to the file.
public final class DeflatedBlockCache: Sendable {
    public struct Key: Hashable, Sendable {
        public var content: ContentID
        public var offset: UInt64
        public var length: Int
        public var level: Int32

        public init(content: ContentID, offset: UInt64, length: Int, level: Int32) {
            self.content = content
            self.offset = offset
            self.length = length
            self.level = level
        }
    }

    public enum Entry: Sendable {
        case deflated(ByteBuffer)
        /// Deflate did not save enough: send it raw.
        case incompressible
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var order: [Key] = []
        var orderStart = 0
        var bytes = 0
        var hits: UInt64 = 0
        var misses: UInt64 = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    /// - Parameter capacity: bytes of deflated payload held at most (0: nothing is kept).
    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    public func lookup(_ key: Key) -> Entry? {
        state.withLock { s in
            let entry = s.entries[key]
            if entry == nil { s.misses += 1 } else { s.hits += 1 }
            return entry
        }
    }

    public func store(_ entry: Entry, for key: Key) {
        let size = if case .deflated(let payload) = entry { payload.readableBytes } else { 0 }
        guard size <= capacity else { return }
        state.withLock { s in
            guard s.entries[key] == nil else { return }
            while s.bytes + size > capacity, s.orderStart < s.order.count {
                let oldest = s.order[s.orderStart]
                s.orderStart += 1
                if case .deflated(let payload) = s.entries.removeValue(forKey: oldest) { s.bytes -= payload.readableBytes }
            }
            // Drop the consumed front of the queue now and then, not on every eviction.
            if s.orderStart > 1024, s.orderStart * 2 > s.order.count {
                s.order.removeFirst(s.orderStart)
                s.orderStart = 0
            }
            s.entries[key] = entry
            s.order.append(key)
            s.bytes += size
        }
    }

    public var statistics: (hits: UInt64, misses: UInt64, bytes: Int, entries: Int) {
        state.withLock { ($0.hits, $0.misses, $0.bytes, $0.entries.count) }
    }
}
