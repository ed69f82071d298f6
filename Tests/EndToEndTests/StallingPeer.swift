import Foundation
import SonicCore
import SonicWire

/// A fake peer for fault tests: registers a content with the index as if it shared it,
/// accepts downloaders, answers HELLO, then never sends a byte of data (a stalled seeder).
final class StallingPeer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private var indexSession: RawClient?
    private let thread: Thread
    private let stopped = NSLock()
    private var isStopped = false

    init(index: Endpoint, file: SharedFile) throws {
        let (listener, port) = loopbackSocket(listening: true)
        self.listener = listener
        self.port = port
        let fd = listener
        thread = Thread {
            var held: [Int32] = []
            while true {
                let conn = accept(fd, nil, nil)
                if conn < 0 { break }
                // Read HELLO, answer WELCOME, then hold the connection silently.
                var buf = [UInt8](repeating: 0, count: 4096)
                _ = recv(conn, &buf, buf.count, 0)
                var out = ByteBufferCompat()
                let welcome = out.frame(.welcome(Welcome(sessionID: 1)))
                _ = welcome.withUnsafeBytes { send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                held.append(conn)
            }
            held.forEach { close($0) }
        }
        thread.start()
        let session = try RawClient(index)
        session.send(.hello(Hello(role: .seeder, listenPort: UInt16(port), agent: "stalling-peer")))
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
}
