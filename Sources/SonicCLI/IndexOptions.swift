import ArgumentParser
import SonicCore

#if canImport(Glibc)
import Glibc
#endif

/// `--index`, shared by every program that talks to the index.
public struct IndexOptions: ParsableArguments, Sendable {
    public static let defaultPort = 5015
    public static let environmentVariable = "SONIC_INDEX"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Index address(es), comma-separated: HOST:PORT[,HOST:PORT...]. The first that answers is used.",
            discussion: "Default: $SONIC_INDEX, else 127.0.0.1:5015.",
            valueName: "list"
        ),
        transform: EndpointList.parse
    )
    var index: EndpointList?

    public init() {}

    /// The indexes to use: `--index`, else `$SONIC_INDEX`, else 127.0.0.1:5015.
    public func endpoints() throws -> [Endpoint] {
        if let index { return index.endpoints }
        if let env = getenv(Self.environmentVariable).map({ String(cString: $0) }), !env.isEmpty {
            guard let list = Endpoint.parseList(env, defaultPort: Self.defaultPort) else {
                throw ValidationError("$\(Self.environmentVariable) is not a list of HOST:PORT: \(env)")
            }
            return list
        }
        return [Endpoint(host: "127.0.0.1", port: Self.defaultPort)]
    }

    public mutating func validate() throws {
        _ = try endpoints()
    }
}
