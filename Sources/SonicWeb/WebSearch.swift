import SonicCore
import Hummingbird
import HTTPTypes
import Logging
import SonicNet
import SonicWire

/// Index searches for the API.
enum WebSearch {
    static func search(_ client: IndexClient, mode: SearchRequest.Mode, query: String, logger: Logger) async throws -> [SearchResult] {
        do {
            return try await client.search(mode, query, logger: logger)
        } catch let e as IndexUnavailable {
            throw APIError(.serviceUnavailable, "index_unavailable", "\(e)")
        } catch let e as WireLimits.StringTooLong {
            throw APIError.badRequest("\(e)")
        } catch let e as SessionError {
            throw APIError(.badGateway, "index_refused", "the index refused: \(e)")
        }
    }
}
