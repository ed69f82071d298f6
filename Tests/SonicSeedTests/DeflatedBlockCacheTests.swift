import NIOCore
import SonicCore
import SonicSeed
import Testing

@Suite("DeflatedBlockCache")
struct DeflatedBlockCacheTests {
    static func key(_ offset: UInt64) -> DeflatedBlockCache.Key {
        .init(content: ContentID(SHA256Hash.of([1])), offset: offset, length: 1024, level: 1)
    }

    static func payload(_ bytes: Int) -> ByteBuffer { ByteBuffer(repeating: 7, count: bytes) }

    @Test func keepsAtMostItsCapacityDroppingTheOldestFirst() {
        let cache = DeflatedBlockCache(capacity: 1000)
        for i in 0..<4 { cache.store(.deflated(Self.payload(300)), for: Self.key(UInt64(i))) }
        #expect(cache.statistics.bytes == 900)
        #expect(cache.lookup(Self.key(0)) == nil, "the oldest block should have gone")
        for i in 1..<4 {
            guard case .deflated(let p) = cache.lookup(Self.key(UInt64(i))) else { Issue.record("block \(i) missing"); continue }
            #expect(p.readableBytes == 300)
        }
        #expect(cache.statistics.hits == 3 && cache.statistics.misses == 1)
    }

    @Test func incompressibleMarksCostNothingAndABlockLargerThanTheCacheIsNotKept() {
        let cache = DeflatedBlockCache(capacity: 100)
        cache.store(.incompressible, for: Self.key(1))
        cache.store(.deflated(Self.payload(101)), for: Self.key(2))
        #expect(cache.statistics.bytes == 0)
        guard case .incompressible = cache.lookup(Self.key(1)) else { Issue.record("mark missing"); return }
        #expect(cache.lookup(Self.key(2)) == nil)
    }

    @Test func keysDifferByLevelAndLength() {
        let cache = DeflatedBlockCache(capacity: 1000)
        cache.store(.deflated(Self.payload(10)), for: Self.key(0))
        var other = Self.key(0)
        other.level = 6
        #expect(cache.lookup(other) == nil)
        other = Self.key(0)
        other.length = 512
        #expect(cache.lookup(other) == nil)
    }
}
