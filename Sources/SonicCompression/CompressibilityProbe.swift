import NIOCore

/// Decides once per file, at scan time, whether its blocks are worth deflating, so that
/// media, archives and random data are later served without ever calling deflate.
///
/// Known-compressed extensions are skipped without reading (as rsync does); other files are
/// sampled: up to ``sampleCount`` blocks of ``sampleLength`` spread over the file, deflated at
/// level 1; the file counts as compressible if the samples shrink by ``minimumSaving``.
public enum CompressibilityProbe {
    public static let sampleCount = 4
    public static let sampleLength = 64 * 1024
    /// Files that save less than this when sampled are served raw.
    public static let minimumSaving = 0.10

    public static let compressedExtensions: Set<String> = [
        "7z", "aac", "apk", "avi", "avif", "br", "bz2", "deb", "docx", "flac", "gif", "gz", "heic", "jar",
        "jpeg", "jpg", "lz", "lz4", "lzma", "m4a", "m4v", "mkv", "mov", "mp3", "mp4", "mpeg", "mpg", "odt",
        "ogg", "opus", "pdf", "png", "pptx", "rar", "rpm", "tgz", "txz", "webm", "webp", "whl", "xlsx", "xz",
        "zip", "zst",
    ]

    public enum Verdict: Equatable, Sendable {
        case compressible(ratio: Double)
        case incompressible(ratio: Double)
        case knownCompressedExtension
        case tooSmall

        public var isCompressible: Bool {
            if case .compressible = self { return true }
            return false
        }
    }

    /// - Parameters:
    ///   - name: the file's name (for its extension).
    ///   - size: the file's size.
    ///   - read: reads up to `count` bytes at `offset` into a new buffer.
    public static func probe(name: String, size: UInt64, read: (_ offset: UInt64, _ count: Int) throws -> ByteBuffer) rethrows -> Verdict {
        if let dot = name.lastIndex(of: "."), !name[dot...].contains("/") {
            let ext = name[name.index(after: dot)...].lowercased()
            if compressedExtensions.contains(ext) { return .knownCompressedExtension }
        }
        guard size >= UInt64(BlockCodec.minimumBlockLength) else { return .tooSmall }
        let codec = BlockCodec()
        let count = Int(min(UInt64(sampleCount), max(1, size / UInt64(sampleLength))))
        var rawTotal = 0
        var deflatedTotal = 0
        for i in 0..<count {
            let offset = count == 1 ? 0 : (size - UInt64(min(UInt64(sampleLength), size))) / UInt64(count - 1) * UInt64(i)
            let sample = try read(offset, Int(min(UInt64(sampleLength), size - offset)))
            rawTotal += sample.readableBytes
            deflatedTotal += codec.compress(sample, level: 1)?.readableBytes ?? sample.readableBytes
        }
        guard rawTotal > 0 else { return .tooSmall }
        let ratio = Double(deflatedTotal) / Double(rawTotal)
        return ratio <= 1 - minimumSaving ? .compressible(ratio: ratio) : .incompressible(ratio: ratio)
    }
}
