import Foundation
import SonicTestSupport
import NIOCore
import SonicCore
import SonicWire

/// A scripted peer for fault tests: registers a file with the index as if it shared it, then
/// runs `conversation` on every downloader that connects (each on its own thread, after the
/// HELLO/WELCOME handshake). Stopped by ``stop()``; every conversation is bounded by its own
/// read timeout and the loops in it. It speaks plain frames; in a TLS network it reaches the
/// index through a plain door and is reached through a TLS front (``TestNetwork``), both
/// with the doors' identity, which is therefore the peer id the index lists for it.
final class FakePeer: @unchecked Sendable {
    typealias Conversation = @Sendable (RawClient) -> Void

    let port: Int
    private let listener: Int32
    private var indexSession: RawClient?

    init(network: TestNetwork, file: SharedFile, conversation: @escaping Conversation) async throws {
        let (listener, plainPort) = loopbackSocket(listening: true)
        self.listener = listener
        let port = try await network.tlsFront(for: Endpoint(host: "127.0.0.1", port: plainPort)).port
        self.port = port
        Thread {
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 { break }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                Thread {
                    let connection = RawClient(accepted: fd, timeoutSeconds: 30)
                    guard case .hello = connection.receive() else { return }
                    connection.send(.welcome(Welcome(sessionID: 1)))
                    conversation(connection)
                }.start()
            }
        }.start()
        let session = try RawClient(try await network.plainDoor(to: network.indexAddress))
        session.send(.hello(Hello(role: .seeder, listenPort: UInt16(port), agent: "fake-peer")))
        guard case .welcome = session.receive() else { throw HarnessError("index did not welcome the fake peer") }
        session.send(.register([file]))
        guard case .ok = session.receive() else { throw HarnessError("index did not take the fake registration") }
        indexSession = session
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        indexSession = nil
    }

    /// Serves `manifest`, then holds the connection open and silent from its first range
    /// request on (a seeder that stalls mid-download).
    static func stalling(_ manifest: Manifest) -> Conversation {
        answering(manifest) { connection, _ in
            while connection.receive() != nil {}
            return false
        }
    }

    /// Answers MANIFEST with `manifest` and each OBTAIN-RANGE with `range` until EXIT or hang-up;
    /// `range` returns false to end the conversation.
    static func answering(_ manifest: Manifest, range: @escaping @Sendable (RawClient, RangeRequest) -> Bool) -> Conversation {
        { connection in
            while let message = connection.receive() {
                switch message {
                case .manifestRequest(let id): connection.send(.manifest(id, manifest.canonicalEncoding))
                case .obtainRange(let r): if !range(connection, r) { return }
                case .exit: return
                default: continue
                }
            }
        }
    }

    /// Serves `manifest` and ranges of `bytes` honestly enough to be believed, whatever they are.
    static func serving(_ manifest: Manifest, _ bytes: [UInt8]) -> Conversation {
        answering(manifest) { connection, r in
            var offset = Int(r.offset)
            let end = offset + Int(r.length)
            while offset < end {
                let count = min(WireLimits.maximumBlockLength, end - offset)
                let payload = ByteBuffer(bytes: bytes[offset..<offset + count])
                connection.send(.data(DataBlock(requestID: r.requestID, encoding: .raw, rawLength: UInt32(count), payload: payload)))
                offset += count
            }
            return connection.send(.end(requestID: r.requestID))
        }
    }

    /// Serves the manifest, then answers the first range with one 1-byte DATA frame every
    /// `interval` seconds, never END, and ignores CANCEL: keeps a connection busy without
    /// stalling it. Stops after `drops` frames or when the downloader hangs up.
    static func dripping(_ manifest: Manifest, _ bytes: [UInt8], interval: Double = 0.1, drops: Int = 600) -> Conversation {
        answering(manifest) { connection, r in
            for i in 0..<min(drops, Int(r.length)) {
                let byte = ByteBuffer(bytes: [bytes[Int(r.offset) + i]])
                guard connection.send(.data(DataBlock(requestID: r.requestID, encoding: .raw, rawLength: 1, payload: byte)))
                else { return false }
                Thread.sleep(forTimeInterval: interval)
            }
            return false
        }
    }
}

extension SharedFile {
    /// What a fake peer registers for `manifest`'s content under `name`.
    init(name: String, manifest: Manifest) {
        self.init(name: name, size: manifest.fileSize, contentID: manifest.contentID, fileHash: manifest.fileHash)
    }
}
