import NIOCore
import SonicCompression
import SonicCore
import SonicWire

/// How a seeder encodes the data blocks it sends (`--compress`, `--level`).
public struct BlockEncodingPolicy: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Deflate blocks of files the scan found compressible, when the block shrinks enough.
        case auto
        /// Try to deflate every block, whatever the scan found (still sent raw if it does not shrink).
        case always
        /// Never deflate.
        case never
    }

    public var mode: Mode
    public var level: Int32

    public init(mode: Mode = .auto, level: Int32 = 1) {
        self.mode = mode
        self.level = level
    }

    func makeEncoder(deflate: Bool) -> BlockEncoder {
        BlockEncoder(policy: self, deflateAllowed: deflate)
    }
}

/// Reads blocks from files and writes them as DATA frames for one connection, keeping the
/// last opened file (requests for one file come in long runs). Blocks worth deflating come
/// from the shared ``DeflatedBlockCache`` when another downloader already had them.
struct BlockSender {
    let outbound: NIOAsyncChannelOutboundWriter<Message>
    let encoder: BlockEncoder
    let statistics: UploadStatistics
    let rateLimiter: RateLimiter?
    let cache: DeflatedBlockCache?
    private var openFile: (source: Source, file: ReadOnlyFile)?
    private let allocator = ByteBufferAllocator()

    init(outbound: NIOAsyncChannelOutboundWriter<Message>, encoder: BlockEncoder, statistics: UploadStatistics,
         rateLimiter: RateLimiter?, cache: DeflatedBlockCache?) {
        self.outbound = outbound
        self.encoder = encoder
        self.statistics = statistics
        self.rateLimiter = rateLimiter
        self.cache = cache
    }

    /// What blocks are read from.
    enum Source: Equatable {
        /// A shared file, checked against its scan.
        case shared(SharedEntry)
        /// A download in progress: its partial file (only verified ranges are asked of it).
        case partial(path: String, contentID: ContentID)

        var contentID: ContentID {
            switch self {
            case .shared(let entry): entry.contentID
            case .partial(_, let id): id
            }
        }

        /// Whether blocks are worth deflating: known for scanned files only.
        var compressible: Bool {
            if case .shared(let entry) = self { return entry.compressible }
            return false
        }
    }

    /// Opens (or reuses) `entry`'s file, refusing it unless it is still the file that was
    /// scanned and hashed (``SharedEntry/open()``: no symlink followed, same device, inode,
    /// size and modification time).
    mutating func open(_ entry: SharedEntry) throws -> ReadOnlyFile {
        try open(.shared(entry)) { try entry.open() }
    }

    /// Opens (or reuses) a download's partial file.
    mutating func open(_ holding: PartialHolding) throws -> ReadOnlyFile {
        try open(.partial(path: holding.path, contentID: holding.contentID)) { try holding.reader() }
    }

    private mutating func open(_ source: Source, opening: () throws -> ReadOnlyFile) throws -> ReadOnlyFile {
        if let current = openFile, current.source == source { return current.file }
        openFile?.file.close()
        openFile = nil
        let file = try opening()
        openFile = (source, file)
        return file
    }

    /// Sends `count` bytes at `offset` as one DATA frame. False if the file is now shorter
    /// (it changed on disk).
    mutating func sendBlock(from file: ReadOnlyFile, at offset: UInt64, count: Int, requestID: UInt32) async throws -> Bool {
        let source = openFile?.source
        let tryDeflate = encoder.triesDeflate(fileIsCompressible: source?.compressible ?? false)
        let key = source.map { DeflatedBlockCache.Key(content: $0.contentID, offset: offset, length: count, level: encoder.policy.level) }
        let cached = tryDeflate ? key.flatMap { cache?.lookup($0) } : nil
        let block: DataBlock
        if case .deflated(let payload) = cached {
            // Another downloader's block: no read, no deflate.
            block = DataBlock(requestID: requestID, encoding: .deflate, rawLength: UInt32(count), payload: payload)
        } else {
            var buffer = allocator.buffer(capacity: count)
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: space[0..<count]), at: offset)
            }
            guard read == count else { return false }
            block = encoder.encode(buffer, requestID: requestID, tryDeflate: tryDeflate && cached == nil)
            if tryDeflate, cached == nil, let key, let cache {
                // Kept in a buffer of its own size: the deflate output buffer is sized for the
                // raw block and would hold about four times the memory the cache counts.
                cache.store(block.encoding == .deflate ? .deflated(allocator.buffer(buffer: block.payload)) : .incompressible,
                            for: key)
            }
        }
        let wireBytes = WireSize.dataFrame(payload: block.payload.readableBytes)
        try await rateLimiter?.acquire(wireBytes)
        statistics.record(fileBytes: count, wireBytes: wireBytes, deflated: block.encoding == .deflate, content: source?.contentID)
        try await outbound.write(.data(block))
        return true
    }

    mutating func finish() {
        openFile?.file.close()
        openFile = nil
    }
}

/// Chooses raw or deflate for each block: deflate only where the downloader accepts it, the
/// policy allows it, the file was found compressible at scan time (or the mode is `always`),
/// and the block actually shrinks by ``BlockCodec/minimumSaving``.
struct BlockEncoder {
    let policy: BlockEncodingPolicy
    let deflateAllowed: Bool
    private let codec = BlockCodec()

    init(policy: BlockEncodingPolicy, deflateAllowed: Bool) {
        self.policy = policy
        self.deflateAllowed = deflateAllowed
    }

    /// Whether a block of such a file is worth deflating for this downloader.
    func triesDeflate(fileIsCompressible: Bool) -> Bool {
        deflateAllowed && (policy.mode == .always || (policy.mode == .auto && fileIsCompressible))
    }

    /// The block as sent: deflated if `tryDeflate` and it shrinks enough, else raw.
    func encode(_ raw: ByteBuffer, requestID: UInt32, tryDeflate: Bool) -> DataBlock {
        if tryDeflate, let deflated = codec.compress(raw, level: policy.level) {
            return DataBlock(requestID: requestID, encoding: .deflate, rawLength: UInt32(raw.readableBytes), payload: deflated)
        }
        return DataBlock(requestID: requestID, encoding: .raw, rawLength: UInt32(raw.readableBytes), payload: raw)
    }
}

extension BlockEncodingPolicy {
    /// Whether the file at `path` is worth deflating; decided once per file at scan time
    /// (``CompressibilityProbe``). Unreadable files count as incompressible.
    public static let probe: @Sendable (_ path: String, _ name: String) -> Bool = { path, name in
        guard let file = try? ReadOnlyFile(path: path) else { return false }
        defer { file.close() }
        guard let size = try? file.size() else { return false }
        let allocator = ByteBufferAllocator()
        let verdict = try? CompressibilityProbe.probe(name: name, size: size) { offset, count in
            var buffer = allocator.buffer(capacity: count)
            _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: space[0..<count]), at: offset)
            }
            return buffer
        }
        return verdict?.isCompressible ?? false
    }
}
