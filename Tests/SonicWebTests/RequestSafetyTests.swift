import Testing
@testable import SonicWeb

/// The request checks as a pure decision: no server, no sockets.
struct RequestSafetyTests {
    let open = RequestSafety(allowedHosts: RequestSafety.hosts(for: "127.0.0.1"), port: 8080, token: nil)
    let guarded = RequestSafety(allowedHosts: RequestSafety.hosts(for: "0.0.0.0"), port: 8080, token: "t0ken")

    func code(_ verdict: RequestSafety.Verdict) -> String? {
        if case .refuse(_, let code, _) = verdict { return code }
        return nil
    }

    @Test func hostHeaderMustNameThisServer() {
        #expect(open.check(.init(method: "GET", path: "/api/v1/status", host: "127.0.0.1:8080")) == .allow)
        #expect(open.check(.init(method: "GET", path: "/api/v1/status", host: "LOCALHOST:8080")) == .allow)
        #expect(open.check(.init(method: "GET", path: "/api/v1/status", host: "[::1]:8080")) == .allow)
        #expect(code(open.check(.init(method: "GET", path: "/", host: "evil.example:8080"))) == "bad_host")
        #expect(code(open.check(.init(method: "GET", path: "/", host: "127.0.0.1:9999"))) == "bad_host")
        #expect(code(open.check(.init(method: "GET", path: "/", host: "127.0.0.1"))) == "bad_host")  // port 80
        #expect(code(open.check(.init(method: "GET", path: "/", host: nil))) == "bad_host")
        #expect(code(open.check(.init(method: "GET", path: "/", host: "127.0.0.1:x"))) == "bad_host")
    }

    @Test func stateChangesNeedTheCustomHeaderOrABearer() {
        let h = "127.0.0.1:8080"
        #expect(code(open.check(.init(method: "POST", path: "/api/v1/downloads", host: h))) == "csrf")
        #expect(code(open.check(.init(method: "DELETE", path: "/api/v1/downloads/x", host: h))) == "csrf")
        #expect(code(open.check(.init(method: "POST", path: "/api/v1/downloads", host: h, requestHeader: "0"))) == "csrf")
        #expect(open.check(.init(method: "POST", path: "/api/v1/downloads", host: h, requestHeader: "1")) == .allow)
        #expect(open.check(.init(method: "GET", path: "/api/v1/downloads", host: h)) == .allow)
        // Another site's page: refused even with the header (which it could only send after a preflight).
        #expect(code(open.check(.init(method: "POST", path: "/api/v1/downloads", host: h, origin: "http://evil.example",
                                      requestHeader: "1"))) == "cross_origin")
        #expect(open.check(.init(method: "POST", path: "/api/v1/downloads", host: h, origin: "http://127.0.0.1:8080",
                                 requestHeader: "1")) == .allow)
    }

    @Test func aTokenIsNeededEverywhereButThePageAndLogin() {
        let h = "127.0.0.1:8080"
        #expect(code(guarded.check(.init(method: "GET", path: "/api/v1/status", host: h))) == "unauthorized")
        #expect(code(guarded.check(.init(method: "GET", path: "/metrics", host: h))) == "unauthorized")
        #expect(guarded.check(.init(method: "GET", path: "/", host: h)) == .login)
        #expect(guarded.check(.init(method: "POST", path: "/api/v1/login", host: h, requestHeader: "1")) == .allow)
        #expect(code(guarded.check(.init(method: "GET", path: "/api/v1/status", host: h, authorization: "Bearer nope"))) == "unauthorized")
        #expect(guarded.check(.init(method: "GET", path: "/api/v1/status", host: h, authorization: "Bearer t0ken")) == .allow)
        #expect(guarded.check(.init(method: "GET", path: "/", host: h, cookie: "a=b; sonic_token=t0ken")) == .allow)
        // The cookie goes along with a cross-site form post: alone it allows reads only.
        #expect(code(guarded.check(.init(method: "POST", path: "/api/v1/files", host: h, cookie: "sonic_token=t0ken"))) == "csrf")
        #expect(guarded.check(.init(method: "POST", path: "/api/v1/files", host: h, authorization: "Bearer t0ken")) == .allow)
    }

    @Test func bindingParsesPortOrHostAndPort() {
        #expect(HTTPBinding(parsing: "0") == HTTPBinding(host: "127.0.0.1", port: 0))
        #expect(HTTPBinding(parsing: "8080") == HTTPBinding(host: "127.0.0.1", port: 8080))
        #expect(HTTPBinding(parsing: "0.0.0.0:80") == HTTPBinding(host: "0.0.0.0", port: 80))
        #expect(HTTPBinding(parsing: "[::1]:80") == HTTPBinding(host: "::1", port: 80))
        #expect(HTTPBinding(parsing: "70000") == nil)
        #expect(HTTPBinding(parsing: "http://x:1") == nil)
        #expect(HTTPBinding(host: "127.0.0.2", port: 1).isLoopback)
        #expect(!HTTPBinding(host: "0.0.0.0", port: 1).isLoopback)
    }

    @Test func aNonLoopbackBindNeedsAToken() {
        #expect(throws: WebConfigurationError.self) {
            try WebConfiguration(binding: HTTPBinding(host: "0.0.0.0", port: 1), token: nil).validate()
        }
        #expect(throws: Never.self) { try WebConfiguration(binding: HTTPBinding(host: "0.0.0.0", port: 1), token: "x").validate() }
        #expect(throws: Never.self) { try WebConfiguration(binding: HTTPBinding(port: 1), token: nil).validate() }
    }

    @Test func uploadNamesStayInsideTheFolder() {
        #expect(FolderUpload.problem(with: "a/b.txt") == nil)
        for bad in ["../a", "/etc/passwd", "a/../../b", ".hidden", "a/.b", "a//b", "", "a/\u{0}b", "a\nb"] {
            #expect(FolderUpload.problem(with: bad) != nil, "\(bad.debugDescription)")
        }
    }

    @Test func theRateComesFromRecentSamples() {
        let meter = RateMeter(window: .seconds(3))
        let t0 = ContinuousClock.now
        #expect(meter.sample(0, at: t0) == 0)
        #expect(meter.sample(1000, at: t0 + .seconds(1)) == 1000)
        #expect(meter.sample(3000, at: t0 + .seconds(2)) == 1500)
    }
}
