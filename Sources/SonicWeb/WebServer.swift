import CoreMetrics
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SonicCore
import Synchronization

/// The request context of every route: JSON bodies are small (uploads stream on their own).
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
    public var maxUploadSize: Int { 64 << 10 }
}

/// What both programs' web servers share: the binding, the token, the limits.
public struct WebConfiguration: Sendable {
    public var binding: HTTPBinding
    public var token: String?
    /// Most open HTTP connections; more wait in the kernel's backlog.
    public var maximumConnections: Int
    /// Largest file accepted by an upload.
    public var maximumUploadBytes: UInt64

    public init(binding: HTTPBinding, token: String?, maximumConnections: Int = 64, maximumUploadBytes: UInt64 = 1 << 30) {
        self.binding = binding
        self.token = token
        self.maximumConnections = maximumConnections
        self.maximumUploadBytes = maximumUploadBytes
    }

    /// A server reachable from other machines must have a token.
    public func validate() throws(WebConfigurationError) {
        if !binding.isLoopback && (token ?? "").isEmpty {
            throw WebConfigurationError(message: "--http on \(binding.host) (not loopback) needs a token: --http-token-file FILE or $SONIC_HTTP_TOKEN")
        }
    }
}

public struct WebConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The safety rules, with the port filled in once the server is bound (`--http 0`).
final class SafetyRules: Sendable {
    private let rules: Mutex<RequestSafety>
    init(_ rules: RequestSafety) { self.rules = Mutex(rules) }
    var current: RequestSafety { rules.withLock { $0 } }
    func bound(port: Int) { rules.withLock { $0.port = port } }
}

/// Applies ``RequestSafety`` to every request, counts requests, and adds the headers that
/// keep pages from framing or sniffing our responses. No CORS header is ever sent.
struct SafetyMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let rules: SafetyRules
    let metrics: WebMetrics?
    let loginPage: @Sendable () -> Response

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        metrics?.requestsServed.increment()
        let h = request.headers
        let verdict = rules.current.check(.init(
            method: request.method.rawValue, path: request.uri.path, host: request.head.authority ?? h[.host],
            origin: h[.origin], requestHeader: h[HTTPField.Name(RequestSafety.requestHeader)!],
            authorization: h[.authorization], cookie: h[.cookie]))
        var response: Response
        switch verdict {
        case .allow: response = try await next(request, context)
        case .login: response = loginPage()
        case .refuse(let status, let code, let message):
            response = APIError.response(status: .init(code: status), code: code, message: message)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

extension HTTPField.Name {
    static var host: Self { .init("Host")! }
}

/// Builds and runs a Hummingbird application on the configured address.
enum WebServer {
    static func application(
        router: Router<WebContext>, configuration: WebConfiguration, logger: Logger,
        onRunning: @escaping @Sendable (Endpoint) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(configuration.binding.host, port: configuration.binding.port),
                                 serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(configuration.maximumConnections)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.binding.port
                await onRunning(Endpoint(host: configuration.binding.host, port: port))
            },
            logger: logger)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: contentType]
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The token-login route and the metrics route, shared by both programs.
    static func addCommonRoutes(to router: Router<WebContext>, configuration: WebConfiguration, metrics: WebMetrics,
                                beforeScrape: @escaping @Sendable () -> Void = {}) {
        router.post("/api/v1/login") { request, context -> Response in
            let login = try await request.decode(as: LoginRequest.self, context: context)
            guard let token = configuration.token, ConstantTime.equal(login.token, token) else {
                throw APIError(.unauthorized, "unauthorized", "wrong token")
            }
            var response = Response(status: .noContent)
            response.headers[.setCookie] = "\(RequestSafety.tokenCookie)=\(token); Path=/; HttpOnly; SameSite=Strict"
            return response
        }
        router.get("/metrics") { _, _ -> Response in
            beforeScrape()
            return text(metrics.text(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}

import Foundation
