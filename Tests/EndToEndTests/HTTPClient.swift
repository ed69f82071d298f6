import Dispatch
import Foundation
import SonicCore

#if canImport(Glibc)
import Glibc
#endif

/// A plain HTTP/1.1 client over a TCP socket, for the web app's tests: unlike URLSession it
/// sends exactly the headers given (a forged Host, no Origin), and it can read an event
/// stream as it arrives. Blocking socket calls run on a Dispatch thread, never on the
/// concurrency pool; every read has a deadline.
struct HTTPClient: Sendable {
    let address: Endpoint

    struct Reply: Sendable, CustomStringConvertible {
        var status: Int
        var headers: [(String, String)]
        var body: Data
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// The error shape's code, nil if the body is not one.
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var description: String { "HTTP \(status) \(text.prefix(400))" }
    }

    /// Sends a request with `Connection: close` and reads the whole reply.
    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil,
                 host: String? = nil, stateHeader: Bool = true, timeout: Double = 30) async throws -> Reply {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: \(host ?? address.description)", "Connection: close"]
        var all = headers
        if stateHeader && method != "GET" && all["X-Sonic-Request"] == nil { all["X-Sonic-Request"] = "1" }
        if let body { all["Content-Length"] = "\(body.count)" } else if method != "GET" { all["Content-Length"] = "0" }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { lines.append("\(k): \(v)") }
        var raw = Data((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
        if let body { raw.append(body) }
        let bytes = try await exchange(raw, timeout: timeout, until: nil)
        return try Self.parse(bytes)
    }

    func get(_ path: String) async throws -> Reply { try await request("GET", path) }

    func json(_ method: String, _ path: String, _ object: Any) async throws -> Reply {
        try await request(method, path, headers: ["Content-Type": "application/json"],
                          body: try JSONSerialization.data(withJSONObject: object))
    }

    /// Opens the event stream and reads until `done` holds on the text received so far.
    func readEvents(timeout: Double = 30, until done: @escaping @Sendable (String) -> Bool) async throws -> String {
        let raw = Data("GET /api/v1/events HTTP/1.1\r\nHost: \(address)\r\nAccept: text/event-stream\r\n\r\n".utf8)
        let bytes = try await exchange(raw, timeout: timeout, until: { done(String(decoding: $0, as: UTF8.self)) })
        return String(decoding: bytes, as: UTF8.self)
    }

    private func exchange(_ request: Data, timeout: Double, until: (@Sendable (Data) -> Bool)?) async throws -> Data {
        let address = self.address
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.blockingExchange(address, request, timeout: timeout, until: until) })
            }
        }
    }

    private static func blockingExchange(_ address: Endpoint, _ request: Data, timeout: Double,
                                         until: (@Sendable (Data) -> Bool)?) throws -> Data {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(address.port).bigEndian)
        inet_pton(AF_INET, address.host == "localhost" ? "127.0.0.1" : address.host, &sin.sin_addr)
        let connected = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("cannot connect to \(address)") }
        var offset = 0
        let bytes = [UInt8](request)
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may refuse early (a too-large body): read its reply
            offset += n
        }
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                reply.append(contentsOf: buffer[0..<n])
                if let until, until(reply) { return reply }
                if until == nil && isComplete(reply) { return reply }
            } else if n == 0 {
                return reply
            } else if errno != EAGAIN && errno != EINTR {
                return reply
            }
        }
        if until == nil && !reply.isEmpty { return reply }
        throw HarnessError("no complete reply from \(address) within \(timeout)s; got: \(String(decoding: reply.prefix(500), as: UTF8.self))")
    }

    /// True when `data` holds a whole reply (by Content-Length, or a chunked body's end):
    /// a server may keep the connection open despite `Connection: close`.
    private static func isComplete(_ data: Data) -> Bool {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { return false }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
        if let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
            return data.count - end.upperBound >= length
        }
        if head.contains("transfer-encoding: chunked") { return data.suffix(5) == Data("0\r\n\r\n".utf8) }
        return false
    }

    static func parse(_ data: Data) throws -> Reply {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { throw HarnessError("no HTTP header in reply: \(data.count) bytes") }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
            throw HarnessError("bad status line")
        }
        let headers: [(String, String)] = head.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Data(data[end.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            body = dechunk(body)
        }
        return Reply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) -> Data {
        var out = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
            let stop = rest.index(start, offsetBy: size)
            out.append(rest[start..<stop])
            rest = rest[stop...].dropFirst(2)
        }
        return out
    }
}
