import CDeflate
import CZlib
import NIOCore

/// Deflates and inflates single data blocks (docs/PROTOCOL.md, "DATA"): deflate with system
/// zlib, inflate with libdeflate, which decodes the same zlib streams about 2.7× faster
/// (1.7 GB/s against 0.63 GB/s on log-like text, docs/PERFORMANCE.md).
///
/// Each block is an independent zlib stream, so any block can be decoded alone and a corrupt
/// one costs only itself. The deflate and inflate states are kept between blocks (cheaper
/// than allocating them per block), so a codec belongs to one task: it is a class and not
/// `Sendable`.
public final class BlockCodec {
    /// A block is sent deflated only if that saves at least this share of its bytes
    /// (Syncthing uses ~3%): below it, the receiver's inflate costs more than the bytes saved.
    public static let minimumSaving = 0.03
    /// Blocks shorter than this are always sent raw (header overhead dominates).
    public static let minimumBlockLength = 1024
    /// The largest block this codec inflates (the protocol's `maximumBlockLength`, 256 KiB).
    public let maximumRawLength: Int

    private var deflater = z_stream()
    private var deflaterLevel: Int32?
    private var inflater: OpaquePointer?

    public init(maximumRawLength: Int = 256 * 1024) {
        self.maximumRawLength = maximumRawLength
    }

    deinit {
        if deflaterLevel != nil { deflateEnd(&deflater) }
        if let inflater { libdeflate_free_decompressor(inflater) }
    }

    /// The deflated form of `raw`, or nil when it would not save ``minimumSaving`` of its size.
    ///
    /// The output space is capped at the size that would be worth sending, so incompressible
    /// input stops deflate as soon as it overflows that space (an early abort) instead of
    /// compressing the whole block for nothing.
    public func compress(_ raw: ByteBuffer, level: Int32, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer? {
        let inputLength = raw.readableBytes
        guard inputLength >= Self.minimumBlockLength else { return nil }
        guard prepareDeflater(level: level) else { return nil }
        let budget = Int(Double(inputLength) * (1 - Self.minimumSaving))
        var output = allocator.buffer(capacity: budget)
        var finished = false
        raw.withUnsafeReadableBytes { input in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: budget) { out in
                deflater.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
                deflater.avail_in = uInt(input.count)
                deflater.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                deflater.avail_out = uInt(budget)
                // Z_STREAM_END: it all fit in the budget. Anything else (Z_OK/Z_BUF_ERROR with no
                // space left) means the block does not shrink enough: abort, send it raw.
                finished = deflate(&deflater, Z_FINISH) == Z_STREAM_END
                return finished ? budget - Int(deflater.avail_out) : 0
            }
        }
        deflater.next_in = nil
        deflater.next_out = nil
        guard finished else { return nil }
        return output
    }

    public enum InflateError: Error, Equatable, CustomStringConvertible {
        case declaredLengthTooLarge(Int, limit: Int)
        case corrupt(String)
        case longerThanDeclared(Int)
        case shorterThanDeclared(declared: Int, actual: Int)

        public var description: String {
            switch self {
            case .declaredLengthTooLarge(let n, let limit): "block declares \(n) raw bytes, limit is \(limit)"
            case .corrupt(let why): "corrupt deflate stream: \(why)"
            case .longerThanDeclared(let n): "block inflates to more than its declared \(n) bytes"
            case .shorterThanDeclared(let d, let a): "block inflates to \(a) bytes, declared \(d)"
            }
        }
    }

    /// Inflates `payload`, which must expand to exactly `rawLength` bytes, appending them to
    /// `output`. Never writes more than `rawLength` bytes: a stream that wants to produce more
    /// (a zip bomb, a lying peer) fails as soon as that space is full.
    public func decompress(_ payload: ByteBuffer, rawLength: Int, into output: inout ByteBuffer) throws(InflateError) {
        guard rawLength <= maximumRawLength else {
            throw .declaredLengthTooLarge(rawLength, limit: maximumRawLength)
        }
        if inflater == nil { inflater = libdeflate_alloc_decompressor() }
        guard let inflater else { throw .corrupt("cannot allocate a decompressor") }
        var result = LIBDEFLATE_SUCCESS
        var produced = 0
        var consumed = 0
        let start = output.writerIndex
        payload.withUnsafeReadableBytes { input in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: rawLength) { out in
                result = libdeflate_zlib_decompress_ex(inflater, input.baseAddress, input.count, out.baseAddress, rawLength,
                                                       &consumed, &produced)
                return result == LIBDEFLATE_SUCCESS ? produced : 0
            }
        }
        switch result {
        case LIBDEFLATE_SUCCESS where produced == rawLength && consumed == payload.readableBytes:
            return
        case LIBDEFLATE_SUCCESS where produced == rawLength:
            output.moveWriterIndex(to: start)
            throw .corrupt("trailing bytes after the stream")
        case LIBDEFLATE_SUCCESS, LIBDEFLATE_SHORT_OUTPUT:
            output.moveWriterIndex(to: start)
            throw .shorterThanDeclared(declared: rawLength, actual: produced)
        case LIBDEFLATE_INSUFFICIENT_SPACE:
            output.moveWriterIndex(to: start)
            throw .longerThanDeclared(rawLength)
        default:
            output.moveWriterIndex(to: start)
            throw .corrupt("not a valid zlib stream")
        }
    }

    private func prepareDeflater(level: Int32) -> Bool {
        if deflaterLevel == level {
            return deflateReset(&deflater) == Z_OK
        }
        if deflaterLevel != nil {
            deflateEnd(&deflater)
            deflaterLevel = nil
        }
        guard deflateInit_(&deflater, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return false
        }
        deflaterLevel = level
        return true
    }
}

@available(*, unavailable)
extension BlockCodec: Sendable {}
