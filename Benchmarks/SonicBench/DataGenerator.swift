import Foundation
import SonicTestSupport

/// Benchmark input: random bytes (incompressible) or log-like text (compresses ~4–5×),
/// generated once per kind and size and kept in the work folder.
enum DataKind: String, CaseIterable, Sendable {
    case random, text
}

enum DataGenerator {
    static func file(kind: DataKind, size: Int, in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("\(kind.rawValue)-\(size).bin")
        if let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
           (attributes[.size] as? NSNumber)?.intValue == size {
            return url
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var generator = SeededBytes(seed: 0x9E37_79B9_7F4A_7C15)
        var line = 0
        var written = 0
        let chunk = 4 << 20
        while written < size {
            let count = min(chunk, size - written)
            var bytes = [UInt8](repeating: 0, count: count)
            switch kind {
            case .random:
                bytes.withUnsafeMutableBytes { generator.fill($0) }
            case .text:
                var text = [UInt8]()
                text.reserveCapacity(count + 200)
                let levels = ["INFO", "DEBUG", "WARN", "ERROR"]
                while text.count < count {
                    let state = generator.next()
                    let l = "2026-11-24T12:\(line / 3600 % 60):\(line / 60 % 60).\(line % 1000)Z \(levels[Int(state % 4)]) sonic.peer[\(state % 997)] served block \(line) of content \(String(state >> 32, radix: 16)) in \(state % 9000)us\n"
                    text.append(contentsOf: l.utf8)
                    line += 1
                }
                bytes = Array(text.prefix(count))
            }
            try handle.write(contentsOf: bytes)
            written += count
        }
        return url
    }
}
