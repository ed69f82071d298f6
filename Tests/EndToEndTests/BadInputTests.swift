import SonicTestSupport
import Foundation
import SonicCore
import SonicWire
import Testing

/// Broken bytes against running servers: each bad connection gets a clear ERROR and is
/// closed, and the server goes on serving everyone else.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BadInputTests {
    /// Each case: what to send, and the error code the server must answer with.
    static let cases: [(String, [UInt8], ErrorCode)] = [
        ("unknown kind", [0, 0, 0, 1, 0x7f, 0], .unknownKind),
        ("oversized length", [0x7f, 0xff, 0xff, 0xff, Message.Kind.hello.rawValue], .frameTooLarge),
        ("frame before HELLO", frame(.search(SearchRequest(mode: .keyword, query: ""))), .handshakeRequired),
        ("wrong protocol version", frame(.hello(Hello(version: 99, role: .client, agent: "future"))), .versionMismatch),
        ("malformed HELLO payload", [0, 0, 0, 2, Message.Kind.hello.rawValue, 0, 1], .malformedFrame),
        ("invalid UTF-8 in a string",
         [0, 0, 0, 10, Message.Kind.hello.rawValue, 0, 1, 0, 0, 0, 0, 0, 2, 0xff, 0xfe], .malformedFrame),
    ]

    static func frame(_ message: Message) -> [UInt8] {
        var buffer = ByteBufferCompat()
        return buffer.frame(message)
    }

    @Test func indexAnswersEveryBadInputWithAnErrorAndKeepsServing() async throws {
        let net = try await TestNetwork()
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            try await Self.exerciseBadInputs(against: try await net.plainDoor(to: net.indexAddress))
            // Everyone else is still served.
            let results = try await net.search([])
            #expect(results.count == NetworkTests.fixtureNames.count)
        }
    }

    @Test func seederAnswersEveryBadInputWithAnErrorAndKeepsServing() async throws {
        let net = try await TestNetwork()
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            let seeder = try await net.plainDoor(to: net.seederAddresses[0])
            try await Self.exerciseBadInputs(against: seeder)
            // An index command on a peer port is refused too.
            let client = try RawClient(seeder)
            try client.handshake()
            client.send(.heartbeat)
            guard case .error(let e) = client.receive() else { Issue.record("no ERROR for HEARTBEAT"); return }
            #expect(e.code == .unexpectedMessage)
            #expect(client.isClosedByServer())
            let (status, _, program) = try await net.get("readme.txt", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
        }
    }

    /// The end of a plain TCP stream in the middle of a frame. (Over TLS the end of a stream
    /// is a close_notify record, which NIO's TLS handler may read after the FIN that follows
    /// it and report as an unclean shutdown: the conversation then ends without the ERROR.)
    @Test func aFrameCutShortByTheEndOfAPlainStreamGetsAnError() async throws {
        let net = try await TestNetwork(tls: false)
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            try Self.truncatedFrameThenEOF(against: net.indexAddress)
            try Self.truncatedFrameThenEOF(against: net.seederAddresses[0])
        }
    }

    @Test func seederRefusesPathTraversalAndUnknownRanges() async throws {
        let net = try await TestNetwork()
        let folder = try Harness.temporaryDirectory("share")
        let outside = try Harness.temporaryDirectory("secret")
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: outside)
        }
        try Data("shared".utf8).write(to: folder.appendingPathComponent("ok.txt"))
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret.txt"))
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("escape.txt").path,
                                                   withDestinationPath: outside.appendingPathComponent("secret.txt").path)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("escape-dir").path,
                                                   withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("inside-link.txt").path,
                                                   withDestinationPath: "ok.txt")
        try await net.addSeeder(folder: folder)
        try await net.run {
            let results = try await net.waitForSearch([], until: { !$0.isEmpty })
            // Only files inside the folder are shared; links that leave it are not. The link to
            // ok.txt is the same content, so both names share one result group.
            #expect(results.count == 1)
            #expect(Set(results.flatMap { $0["names"] as? [String] ?? [] }) == ["inside-link.txt", "ok.txt"])

            let client = try RawClient(try await net.plainDoor(to: net.seederAddresses[0]))
            try client.handshake()
            for (id, name) in ["../secret/secret.txt", "/etc/passwd", "escape.txt", "escape-dir/secret.txt", "./ok.txt"].enumerated() {
                client.send(.obtain(requestID: UInt32(id + 1), name: name))
                guard case .error(let e) = client.receive() else { Issue.record("\(name) was not refused"); continue }
                #expect(e.code == .notFound, "\(name)")
                #expect(e.requestID == UInt32(id + 1))
            }
            // A range outside the file, and an unknown content: ERROR, connection stays usable.
            let ok = try #require(results.first)
            let id = ContentID(try #require(SHA256Hash(hex: ok["content_id"] as? String ?? "")))
            client.send(.obtainRange(RangeRequest(requestID: 10, contentID: id, offset: 4, length: 100)))
            guard case .error(let e1) = client.receive() else { Issue.record("range not refused"); return }
            #expect(e1.code == .rangeOutOfBounds && e1.requestID == 10)
            let unknown = ContentID(SHA256Hash.of([1, 2, 3]))
            client.send(.obtainRange(RangeRequest(requestID: 11, contentID: unknown, offset: 0, length: 1)))
            guard case .error(let e2) = client.receive() else { Issue.record("unknown content not refused"); return }
            #expect(e2.code == .notFound && e2.requestID == 11)
            // Still usable: the whole file by name.
            client.send(.obtain(requestID: 12, name: "ok.txt"))
            guard case .data(let block) = client.receive() else { Issue.record("no data"); return }
            #expect(String(buffer: block.payload) == "shared")
            guard case .end(12) = client.receive() else { Issue.record("no END"); return }
        }
    }

    // Reads wait up to 30 s: the whole suite shares two cores, and behind TLS every answer
    // also crosses a door (ForwardingProxy) and two TLS handshakes of debug builds.
    static func exerciseBadInputs(against endpoint: Endpoint) async throws {
        for (what, bytes, code) in cases {
            let client = try RawClient(endpoint, timeoutSeconds: 30)
            client.send(bytes)
            guard case .error(let e) = client.receive() else {
                Issue.record("\(what): no ERROR frame from \(endpoint)")
                continue
            }
            #expect(e.code == code, "\(what): \(e)")
            #expect(client.isClosedByServer(), "\(what): connection left open")
        }
    }

    /// A frame cut short by the end of the stream.
    static func truncatedFrameThenEOF(against endpoint: Endpoint) throws {
        let client = try RawClient(endpoint, timeoutSeconds: 30)
        client.send([0, 0, 0, 40, Message.Kind.hello.rawValue, 0, 1])
        client.shutdownWrite()
        guard case .error(let e) = client.receive() else {
            Issue.record("truncated frame: no ERROR")
            return
        }
        #expect(e.code == .malformedFrame)
    }
}

import NIOCore

/// Encodes a frame to bytes (tests only).
struct ByteBufferCompat {
    mutating func frame(_ message: Message) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFrame(message)
        return Array(buffer.readableBytesView)
    }
}
