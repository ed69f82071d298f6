#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import NIOCore
import SonicCore

#if canImport(Glibc)
import Glibc
#endif

/// Which peer id each index must present: pinned on the command line
/// (`--index HOST:PORT#PEERID`), else trusted on first use and remembered in the state dir's
/// `known-indexes` file, as ssh does with `known_hosts` (docs/SECURITY.md).
public struct IndexTrust: Sendable {
    /// Ids given with `--index HOST:PORT#PEERID`.
    public var pins: [Endpoint: PeerID]
    /// The trust-on-first-use file; nil: indexes without a pin are not remembered.
    public var knownIndexesPath: String?

    public static let fileName = "known-indexes"

    public init(pins: [Endpoint: PeerID] = [:], knownIndexesPath: String? = nil) {
        self.pins = pins
        self.knownIndexesPath = knownIndexesPath
    }

    /// Checks the id an index presented in its TLS handshake: against its pin if it has one
    /// (the connector already refused a mismatch), else against the known-indexes file,
    /// where a first meeting is recorded.
    public func check(_ endpoint: Endpoint, presented: PeerID) throws {
        if pins[endpoint] != nil { return }
        guard let path = knownIndexesPath else { return }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        switch KnownIndexes(text: text).verdict(for: endpoint, presented: presented) {
        case .known:
            return
        case .changed(let known, let line):
            throw IndexIdentityChanged(index: endpoint, known: known, presented: presented, file: path, line: line)
        case .firstUse:
            try KnownIndexes.append(endpoint, presented, to: path)
        }
    }
}

extension Connector {
    /// Connects to the index at `endpoint` and checks the peer id it proves against `trust`
    /// (its pin, else the known-indexes file). Returns the connection and both ends' peer ids
    /// (nil with TLS off).
    public func connect(toIndex endpoint: Endpoint, trust: IndexTrust) async throws -> (FrameChannel, TransportIdentities?) {
        let channel = try await connect(to: endpoint, expecting: trust.pins[endpoint])
        do {
            let identities = try await channel.transportIdentities()
            if let identities { try trust.check(endpoint, presented: identities.remote) }
            return (channel, identities)
        } catch {
            try? await channel.executeThenClose { _, _ in }
            throw error
        }
    }
}

/// The known-indexes file: one `HOST:PORT PEERID` per line; `#` starts a comment. The first
/// line for an address is the one that counts.
public struct KnownIndexes: Sendable {
    public struct Entry: Sendable, Equatable {
        public var index: Endpoint
        public var peerID: PeerID
        /// 1-based, for the message that asks the user to edit it.
        public var line: Int
    }

    public var entries: [Entry]

    public init(text: String) {
        entries = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, !fields[0].hasPrefix("#"),
                  let endpoint = Endpoint.parseList(String(fields[0]))?.first,
                  let id = try? PeerID(parsing: String(fields[1])) else { continue }
            entries.append(Entry(index: endpoint, peerID: id, line: number + 1))
        }
    }

    public enum Verdict: Sendable, Equatable {
        case known
        case firstUse
        case changed(known: PeerID, line: Int)
    }

    public func verdict(for index: Endpoint, presented: PeerID) -> Verdict {
        guard let entry = entries.first(where: { $0.index == index }) else { return .firstUse }
        return entry.peerID == presented ? .known : .changed(known: entry.peerID, line: entry.line)
    }

    static let header = "# Sonic Share: the peer id each index presented when first met (trust on first use).\n"
        + "# If an index's identity changed on purpose, delete its line (or pin it with --index HOST:PORT#PEERID).\n"

    /// Appends one line in a single `write` with `O_APPEND`, so programs that meet an index at
    /// the same time do not interleave their lines.
    static func append(_ index: Endpoint, _ id: PeerID, to path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw IdentityError(path: path, reason: "cannot record the index's identity (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        let isNew = fstat(fd, &st) == 0 && st.st_size == 0
        let bytes = Array(((isNew ? header : "") + "\(index) \(id)\n").utf8)
        do {
            try bytes.withUnsafeBytes { try PositionalIO.writeAll(fd, $0, path: path) }
        } catch let error as FileError {
            throw IdentityError(path: path, reason: "cannot record the index's identity (\(error.message))")
        }
    }
}

/// An index presented another identity than the one remembered for its address.
public struct IndexIdentityChanged: Error, CustomStringConvertible {
    public var index: Endpoint
    public var known: PeerID
    public var presented: PeerID
    public var file: String
    public var line: Int

    public var description: String {
        "THE IDENTITY OF THE INDEX AT \(index) HAS CHANGED: it presented peer id \(presented), "
            + "but \(file) line \(line) says \(known). Someone may be intercepting the connection. "
            + "If the index got a new identity on purpose, delete line \(line) of \(file), "
            + "or pin it with --index \(index)#\(presented)"
    }
}
