import Foundation
import NIOCore
import SonicCore
import SonicWire

/// A TCP socket bound to 127.0.0.1 on a port the OS picks, optionally listening.
/// Test sockets are close-on-exec: the programs a test starts (a PostgreSQL server counts the
/// descriptors it inherits against its limit) must not inherit hundreds of them.
public func loopbackSocket(listening: Bool) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if listening { listen(fd, 16) }
    var bound = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &bound) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: bound.sin_port)))
}

/// A blocking TCP client for sending hand-made (and deliberately broken) bytes to a running
/// server and reading back what it answers. Every read has a timeout. Used by the
/// end-to-end tests and by `sonic-bench index`. Sendable so that a client can be handed to
/// another thread; only one thread may use it at a time.
public final class RawClient: @unchecked Sendable {
    public let fd: Int32
    private var inbound = ByteBuffer()

    /// Wraps an accepted connection (a fake peer's side); reads time out after `timeoutSeconds`.
    public init(accepted fd: Int32, timeoutSeconds: Int = 5) {
        self.fd = fd
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public init(_ endpoint: Endpoint, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawClientError("socket failed") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(endpoint.port).bigEndian)
        inet_pton(AF_INET, endpoint.host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw RawClientError("connect to \(endpoint) failed")
        }
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; false once the other side is gone.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    @discardableResult
    public func send(_ message: Message) -> Bool {
        var buffer = ByteBuffer()
        buffer.writeFrame(message)
        return send(Array(buffer.readableBytesView))
    }

    /// Closes our sending half (the server sees end of stream).
    public func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// The next message, or nil if the server closed the connection (or the read timed out).
    public func receive() -> Message? {
        var decoder = FrameDecoder()
        while true {
            if let message = try? decoder.decode(buffer: &inbound) { return message }
            // Straight into the buffer's free space: `sonic-bench index` shares 2 cores with the
            // index it measures, and a fresh zeroed 64 KiB array per read cost it CPU.
            if inbound.readableBytes == 0 { inbound.clear() }
            let n = inbound.writeWithUnsafeMutableBytes(minimumWritableBytes: 16384) { free in
                max(0, recv(fd, free.baseAddress, free.count, 0))
            }
            guard n > 0 else { return nil }
        }
    }

    /// True when an answer (or part of one) has arrived and not been read yet; never waits.
    public func hasBytesWaiting() -> Bool {
        if inbound.readableBytes > 0 { return true }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }

    /// True once the server has closed the connection (reads return end of stream).
    public func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    /// HELLO + WELCOME.
    public func handshake(role: PeerRole = .client) throws {
        send(.hello(Hello(role: role, agent: "raw-test")))
        guard case .welcome = receive() else { throw RawClientError("no WELCOME") }
    }
}

/// A raw client could not connect or was not welcomed.
public struct RawClientError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
