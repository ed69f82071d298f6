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

    public var description: String { endpoints.map(\.description).joined(separator: ",") }
    public var defaultValueDescription: String { description }
}

/// `--compress auto|always|never`.
public enum CompressionMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, always, never
}

extension String {
    fileprivate func replacingSpaces() -> String { split(separator: " ").joined() }
}
