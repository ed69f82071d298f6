/// A host and TCP port: `127.0.0.1:5015`, `localhost:5015`, `[::1]:5015`.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible, Codable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`. With `defaultPort`, a bare host is accepted too.
    public init?(parsing text: String, defaultPort: Int? = nil) {
        let s = text.trimmingWhitespace()
        var host: Substring
        var portText: Substring?
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = s.lastIndex(of: ":"), s.firstIndex(of: ":") == colon {
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
        } else if s.contains(":") {
            // A bare IPv6 address without brackets: host only.
            host = Substring(s)
            portText = nil
        } else {
            host = Substring(s)
            portText = nil
        }
        // Host names and addresses only: a URL ("http://h:1"), a path or a user@ part is refused.
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:_%".contains($0)) })
        else { return nil }
        let port: Int
        if let portText {
            guard let p = Int(portText), (0...65535).contains(p) else { return nil }
            port = p
        } else {
            guard let defaultPort else { return nil }
            port = defaultPort
        }
        self.init(host: String(host), port: port)
    }

    /// Parses a comma-separated list (`a:5015,b:5016`); nil if any element is invalid or the list is empty.
    public static func parseList(_ text: String, defaultPort: Int? = nil) -> [Endpoint]? {
        let parts = text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { return nil }
        var out: [Endpoint] = []
        for p in parts {
            guard let e = Endpoint(parsing: p, defaultPort: defaultPort) else { return nil }
            out.append(e)
        }
        return out
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension Endpoint {
    /// `localhost`, `::1` or an address in 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    /// Whether this address, as an index lists it, may be `own` (this peer's own server): the
    /// same port, and the same host or both on loopback.
    public func mayBe(_ own: Endpoint) -> Bool {
        port == own.port && (host == own.host || (Self.isLoopback(host) && Self.isLoopback(own.host)))
    }
}
