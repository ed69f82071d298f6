import Foundation
import PostgresNIO

/// Where the PostgreSQL store's database is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`,
/// as given to `sonic-index --store`. No TLS: the database is expected on a trusted network
/// (loopback, or a private segment beside the index machines).
public struct PostgresStoreAddress: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String

    public init(user: String, password: String? = nil, host: String, port: Int = 5432, database: String) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
    }

    /// Parses a `postgres://` or `postgresql://` URL; nil when it is not one or lacks a
    /// user, host or database.
    public init?(parsing text: String) {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql",
              let user = url.user, !user.isEmpty, let host = url.host, !host.isEmpty
        else { return nil }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/"), url.query == nil else { return nil }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { return nil }
        self.init(user: user, password: url.password, host: host, port: port, database: database)
    }

    /// The address without its password, for logs.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    public var clientConfiguration: PostgresClient.Configuration {
        PostgresClient.Configuration(host: host, port: port, username: user, password: password,
                                     database: database, tls: .disable)
    }
}
