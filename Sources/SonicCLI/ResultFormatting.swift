import SonicCore
import SonicWire

/// How search results are shown to people and to programs.
public enum ResultFormatting {
    /// One aligned line per result: name, size, hash prefix, peer count.
    public static func table(_ results: [SearchResult]) -> [String] {
        let rows = results.map { r in
            [r.name, ByteCount(r.size).description, r.contentID.shortHex, "\(r.peers.count)"]
        }
        return alignedTable(header: ["NAME", "SIZE", "HASH", "PEERS"], rows: rows, rightAligned: [1, 3])
    }

    /// A JSON object per result, as `sonic-search --json` prints them.
    public static func json(_ r: SearchResult) -> JSONValue {
        .object([
            ("name", .string(r.name)),
            ("names", .array(r.names.map(JSONValue.string))),
            ("size", .number(Double(r.size))),
            ("content_id", .string(r.contentID.hex)),
            ("sha256", .string(r.fileHash.hex)),
            ("peers", .array(r.peers.map { .string($0.description) })),
        ])
    }

    public static func alignedTable(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if i == row.count - 1 && !rightAligned.contains(i) { return cell }
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
    }
}
