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
            "Index address(es), comma-separated: HOST:PORT[#PEERID][,HOST:PORT...]. The first that answers is used.",
            discussion: "Default: $SONIC_INDEX, else 127.0.0.1:5015. With #PEERID the index must present that identity; "
                + "without, the identity first seen is remembered in the state dir (known-indexes) and required afterwards.",
            valueName: "list"
        ),
        transform: EndpointList.parse
    )
    var index: EndpointList?

    public init() {}

    /// The indexes to use: `--index`, else `$SONIC_INDEX`, else 127.0.0.1:5015.
    public func endpoints() throws -> [Endpoint] {
        try list().endpoints
    }

    /// The peer ids pinned with `HOST:PORT#PEERID`.
    public func pins() throws -> [Endpoint: PeerID] {
        try list().pins
    }

    private func list() throws -> EndpointList {
        if let index { return index }
        if let env = getenv(Self.environmentVariable).map({ String(cString: $0) }), !env.isEmpty {
            guard let list = try EndpointList.parsePinned(env) else {
                throw ValidationError("$\(Self.environmentVariable) is not a list of HOST:PORT[#PEERID]: \(env)")
            }
            return list
        }
        return EndpointList([Endpoint(host: "127.0.0.1", port: Self.defaultPort)])
    }

    public mutating func validate() throws {
        _ = try endpoints()
    }
}
