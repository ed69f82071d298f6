import SonicSeed
import Logging
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SonicCore
import SonicNet
import SonicWire

extension PeerWebApp {
    /// Every route of the peer's web app.
    func makeRouter() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: SafetyMiddleware(rules: rules, metrics: metrics, loginPage: { WebServer.text(LoginPage.html, contentType: "text/html; charset=utf-8") }))
        router.add(middleware: ErrorShapeMiddleware<WebContext>())

        router.get("/") { _, _ in
            var r = WebServer.text(PeerPage.html, contentType: "text/html; charset=utf-8")
            r.headers[HTTPField.Name("Content-Security-Policy")!] = PeerPage.contentSecurityPolicy
            return r
        }
        router.get("/api/v1/openapi.json") { _, _ in
            WebServer.text(OpenAPIDocument.json, contentType: "application/json; charset=utf-8")
        }
        router.get("/api/v1/status") { _, _ in try WebServer.json(await self.status()) }
        router.get("/api/v1/files") { _, _ in try WebServer.json(FileList(files: self.files())) }
        router.post("/api/v1/files") { request, context in try await self.upload(request, context: context) }
        router.get("/api/v1/search") { request, _ in try await self.search(request) }
        router.get("/api/v1/downloads") { _, _ in try WebServer.json(DownloadList(downloads: self.downloads.all)) }
        router.post("/api/v1/downloads") { request, context in
            let body: DownloadRequest
            do {
                body = try await request.decode(as: DownloadRequest.self, context: context)
            } catch {
                throw APIError.badRequest("the body must be JSON: {\"content_id\": \"...\"} or {\"name\": \"...\"}")
            }
            return try WebServer.json(try await self.downloads.start(body), status: .accepted)
        }
        router.get("/api/v1/downloads/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let info = self.downloads.info(id) else { throw APIError.notFound("no download \(id)") }
            return try WebServer.json(info)
        }
        router.post("/api/v1/downloads/:id/pause") { _, context in
            try WebServer.json(try await self.downloads.pause(try context.parameters.require("id")))
        }
        router.post("/api/v1/downloads/:id/resume") { _, context in
            try WebServer.json(try self.downloads.resume(try context.parameters.require("id")))
        }
        router.delete("/api/v1/downloads/:id") { _, context in
            try await self.downloads.cancel(try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        router.get("/api/v1/events") { _, _ in try self.eventStream() }
        WebServer.addCommonRoutes(to: router, configuration: configuration, metrics: metrics,
                                  beforeScrape: { self.metrics.syncUploads(self.peer.server.statistics) })
        return router
    }

    /// `GET /api/v1/search?q=&offset=&limit=`: result groups by content, `q` blank for all.
    private func search(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters.get("q") ?? ""
        let offset = try intParameter(request, "offset", default: 0, range: 0...Int(Int32.max))
        let limit = try intParameter(request, "limit", default: 50, range: 1...500)
        let client = IndexClient(indexes: peer.indexes, agent: "sonic-seed", secret: peer.secret, transport: peer.transport,
                                 trust: peer.trust)
        let results = try await WebSearch.search(client, mode: .keyword, query: q, logger: logger)
        let page = results.dropFirst(offset).prefix(limit).map(SearchHit.init)
        return try WebServer.json(SearchPage(query: q, total: results.count, offset: offset, limit: limit, results: Array(page)))
    }

    private func intParameter(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw APIError.badRequest("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// `POST /api/v1/files?name=NAME` with the file's bytes as the body, streamed to disk.
    private func upload(_ request: Request, context: WebContext) async throws -> Response {
        guard let name = request.uri.queryParameters.get("name"), !name.isEmpty else {
            throw APIError.badRequest("give the file's name: ?name=NAME")
        }
        let limit = configuration.maximumUploadBytes
        if let length = request.headers[.contentLength].flatMap({ UInt64($0) }), length > limit {
            throw APIError(.contentTooLarge, "too_large", "the file is larger than the limit of \(ByteCount(limit))")
        }
        let file = try FolderUpload(root: peer.indexer.scanner.realRoot, name: name)
        for try await chunk in request.body {
            guard file.written + UInt64(chunk.readableBytes) <= limit else {
                throw APIError(.contentTooLarge, "too_large", "the file is larger than the limit of \(ByteCount(limit))")
            }
            try await NIOThreadPool.singleton.runIfActive { try file.write(chunk) }
        }
        let size = file.written
        let sha256 = try await NIOThreadPool.singleton.runIfActive { try file.commit() }
        peer.indexer.requestRescan()
        return try WebServer.json(UploadResult(name: name, size: size, sha256: sha256), status: .created)
    }

    /// `GET /api/v1/events`: Server-Sent Events until the client leaves or the server stops.
    private func eventStream() throws -> Response {
        guard let stream = events.subscribe() else {
            throw APIError(.serviceUnavailable, "too_many_streams", "too many open event streams")
        }
        var headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8"]
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            for await event in stream {
                try await writer.write(ByteBuffer(string: event.text))
            }
            try await writer.finish(nil)
        })
    }
}
