/// The checks every HTTP request passes before a handler sees it, as one pure decision.
///
/// - **Host header** (DNS rebinding): a page on `evil.example` whose name was rebound to
///   127.0.0.1 reaches the server with `Host: evil.example`; only the names this server is
///   known by are accepted.
/// - **Token**: when one is configured (always, for a non-loopback bind), every request
///   except the page itself and the login call must carry it, as `Authorization: Bearer`
///   or the `sonic_token` cookie the login sets.
/// - **Cross-site requests**: a form on another site can POST here without any custom
///   header and with the browser's cookies. A state-changing request must therefore carry
///   `X-Sonic-Request: 1` or a bearer header, both of which a cross-site page can send only
///   after a CORS preflight this server never grants; an `Origin` other than the server's
///   own is refused too.
public struct RequestSafety: Sendable {
    /// Host names (without port) the server answers to, lowercased.
    public var allowedHosts: Set<String>
    /// The port in the Host header must be this one (nil: any, e.g. before binding).
    public var port: Int?
    public var token: String?

    public static let requestHeader = "X-Sonic-Request"
    public static let tokenCookie = "sonic_token"

    public init(allowedHosts: Set<String>, port: Int?, token: String?) {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        self.port = port
        self.token = token
    }

    /// The names a server bound to `host` answers to: loopback names always, and the bound
    /// host itself (a non-loopback bind has a token, which is the real protection there).
    public static func hosts(for host: String) -> Set<String> {
        var hosts: Set<String> = ["127.0.0.1", "localhost", "[::1]"]
        if host != "0.0.0.0" && host != "::" { hosts.insert(host.contains(":") ? "[\(host)]" : host) }
        return hosts
    }

    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var host: String?
        public var origin: String?
        public var requestHeader: String?
        public var authorization: String?
        public var cookie: String?

        public init(method: String, path: String, host: String?, origin: String? = nil, requestHeader: String? = nil,
                    authorization: String? = nil, cookie: String? = nil) {
            self.method = method
            self.path = path
            self.host = host
            self.origin = origin
            self.requestHeader = requestHeader
            self.authorization = authorization
            self.cookie = cookie
        }
    }

    public enum Verdict: Equatable, Sendable {
        case allow
        /// The page, without a token: show the login form instead.
        case login
        case refuse(status: Int, code: String, message: String)
    }

    /// Paths reachable without a token: the page (which then shows the login form) and login.
    static let open: Set<String> = ["/", "/api/v1/login"]

    public func check(_ r: Request) -> Verdict {
        guard let hostHeader = r.host, hostMatches(hostHeader) else {
            return .refuse(status: 421, code: "bad_host",
                           message: "the Host header names another server; open this page by its own address")
        }
        let stateChanging = !["GET", "HEAD"].contains(r.method.uppercased())
        if stateChanging, let origin = r.origin, !originMatches(origin, host: hostHeader) {
            return .refuse(status: 403, code: "cross_origin", message: "requests from other sites are refused")
        }
        let bearer = bearerToken(r.authorization)
        if let token {
            let presented = bearer ?? cookieToken(r.cookie)
            let valid = presented.map { ConstantTime.equal($0, token) } ?? false
            if !valid {
                if r.path == "/" && r.method.uppercased() == "GET" { return .login }
                if !Self.open.contains(r.path) {
                    return .refuse(status: 401, code: "unauthorized", message: "a valid token is required")
                }
            }
        }
        if stateChanging && r.requestHeader != "1" && bearer == nil {
            return .refuse(status: 403, code: "csrf",
                           message: "state-changing requests need the header \(Self.requestHeader): 1")
        }
        return .allow
    }

    private func hostMatches(_ header: String) -> Bool {
        guard let (name, port) = Self.split(header) else { return false }
        if let expected = self.port, port != expected { return false }
        return allowedHosts.contains(name.lowercased())
    }

    /// `Origin: http://host:port` must name the host the request was sent to.
    private func originMatches(_ origin: String, host: String) -> Bool {
        guard origin.lowercased().hasPrefix("http://") else { return false }
        return origin.dropFirst("http://".count).lowercased() == host.lowercased()
    }

    /// `name:port` or `[v6]:port` → (name, port); a missing port means 80.
    static func split(_ header: String) -> (String, Int)? {
        var name = Substring(header)
        var port = 80
        if let colon = header.lastIndex(of: ":"), !header.hasSuffix("]") {
            guard let p = Int(header[header.index(after: colon)...]) else { return nil }
            name = header[..<colon]
            port = p
        }
        guard !name.isEmpty else { return nil }
        return (String(name), port)
    }

    private func bearerToken(_ header: String?) -> String? {
        guard let header, header.lowercased().hasPrefix("bearer ") else { return nil }
        let t = header.dropFirst("bearer ".count).trimmingCharacters(in: " ")
        return t.isEmpty ? nil : t
    }

    private func cookieToken(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let kv = part.trimmingCharacters(in: " ")
            if kv.hasPrefix(Self.tokenCookie + "=") { return String(kv.dropFirst(Self.tokenCookie.count + 1)) }
        }
        return nil
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

/// Comparison whose time does not depend on where two secrets differ.
enum ConstantTime {
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}
