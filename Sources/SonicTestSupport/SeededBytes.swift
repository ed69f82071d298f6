/// Deterministic pseudo-random numbers and bytes (xorshift64), fast enough for hundreds of
/// MiB: the one seeded generator of test data, randomized tests and benchmark input.
public struct SeededBytes: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed | 1
    }

    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// Fills `buffer` with the next bytes.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let words = buffer.count / 8
        for i in 0..<words { buffer.storeBytes(of: next(), toByteOffset: i * 8, as: UInt64.self) }
        for i in (words * 8)..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: next()) }
    }

    /// `count` bytes from a fresh generator seeded with `seed`.
    public static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededBytes(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { generator.fill($0) }
        return out
    }
}
