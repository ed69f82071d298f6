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
/// last opened file (requests for one file come in long runs).
struct BlockSender {
    let outbound: NIOAsyncChannelOutboundWriter<Message>
    let encoder: BlockEncoder
    let statistics: UploadStatistics
    let rateLimiter: RateLimiter?
    private var openFile: (entry: SharedEntry, file: ReadOnlyFile)?
    private let allocator = ByteBufferAllocator()

    init(outbound: NIOAsyncChannelOutboundWriter<Message>, encoder: BlockEncoder, statistics: UploadStatistics,
         rateLimiter: RateLimiter?) {
        self.outbound = outbound
        self.encoder = encoder
        self.statistics = statistics
        self.rateLimiter = rateLimiter
    }

    /// Opens (or reuses) `entry`'s file, refusing it unless it is still the file that was
    /// scanned and hashed (``SharedEntry/open()``: no symlink followed, same device, inode,
    /// size and modification time).
    mutating func open(_ entry: SharedEntry) throws -> ReadOnlyFile {
        if let current = openFile, current.entry == entry { return current.file }
        openFile?.file.close()
        openFile = nil
        let file = try entry.open()
        openFile = (entry, file)
        return file
    }

    /// Sends `count` bytes at `offset` as one DATA frame. False if the file is now shorter
    /// (it changed on disk).
    mutating func sendBlock(from file: ReadOnlyFile, at offset: UInt64, count: Int, requestID: UInt32) async throws -> Bool {
        var buffer = allocator.buffer(capacity: count)
        let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: space[0..<count]), at: offset)
        }
        guard read == count else { return false }
        let compressible = openFile?.entry.compressible ?? false
        let block = encoder.encode(buffer, requestID: requestID, fileIsCompressible: compressible)
        let wireBytes = WireSize.dataFrame(payload: block.payload.readableBytes)
        try await rateLimiter?.acquire(wireBytes)
        statistics.record(fileBytes: count, wireBytes: wireBytes, deflated: block.encoding == .deflate)
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

    func encode(_ raw: ByteBuffer, requestID: UInt32, fileIsCompressible: Bool) -> DataBlock {
        let worthTrying = deflateAllowed
            && (policy.mode == .always || (policy.mode == .auto && fileIsCompressible))
        if worthTrying, let deflated = codec.compress(raw, level: policy.level) {
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
