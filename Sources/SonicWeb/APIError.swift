import Logging
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The one error shape of the API: `{"error": {"code": "...", "message": "..."}}` with a
/// stable machine-readable code and a sentence for people.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, "conflict", message) }

    struct Body: Codable {
        struct Detail: Codable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    public var headers: HTTPFields { [.contentType: "application/json; charset=utf-8"] }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Self.response(status: status, code: code, message: message)
    }

    static func response(status: HTTPResponse.Status, code: String, message: String) -> Response {
        let data = (try? JSONEncoder().encode(Body(error: .init(code: code, message: message)))) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns every error a handler throws into the API's shape, so no framework default (or
/// a Swift error's text with a path in it) reaches the client.
struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return APIError.response(status: error.status, code: error.code, message: error.message)
        } catch let error as HTTPError {
            let code: String = switch error.status.code {
            case 404: "not_found"
            case 405: "method_not_allowed"
            case 413: "too_large"
            default: error.status.code < 500 ? "bad_request" : "internal"
            }
            let message = error.status == .notFound ? "no such endpoint" : (error.body ?? error.status.reasonPhrase)
            return APIError.response(status: error.status, code: code, message: message)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return APIError.response(status: .internalServerError, code: "internal", message: "internal error")
        }
    }
}
