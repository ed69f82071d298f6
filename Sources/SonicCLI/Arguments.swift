import ArgumentParser
import SonicCore

extension ByteCount: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { description.replacingSpaces() }
}

extension DurationText: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { description }
}

/// `--index a:5015,b:5016`: one or more index endpoints.
public struct EndpointList: ExpressibleByArgument, Sendable, CustomStringConvertible {
    public var endpoints: [Endpoint]

    public init(_ endpoints: [Endpoint]) { self.endpoints = endpoints }

    public init?(argument: String) {
        guard let list = Endpoint.parseList(argument, defaultPort: IndexOptions.defaultPort) else { return nil }
        self.endpoints = list
    }

    /// Parses `--index`, with an error that shows the accepted form.
    public static func parse(_ argument: String) throws -> EndpointList {
        guard let list = EndpointList(argument: argument) else {
            let url = argument.contains("://") ? " (not a URL)" : ""
            throw ValidationError("--index takes HOST:PORT[,HOST:PORT...], e.g. 127.0.0.1:5015 or [::1]:5015\(url); "
                                  + "got \(argument.debugDescription)")
        }
        return list
    }

    public var description: String { endpoints.map(\.description).joined(separator: ",") }
    public var defaultValueDescription: String { description }
}

/// The seeder's `--compress auto|always|never`.
public enum CompressionMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, always, never
}

/// A downloader's `--compress auto|never`: whether to accept deflated blocks (it cannot
/// make a seeder deflate, so there is no `always`).
public enum AcceptCompression: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, never
}

/// The version every program prints with `--version`.
public enum SonicVersion {
    public static let current = "0.2.0"
}

extension String {
    fileprivate func replacingSpaces() -> String { split(separator: " ").joined() }
}
