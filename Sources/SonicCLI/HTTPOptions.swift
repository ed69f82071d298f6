import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicCore

/// `--http [HOST:]PORT` and its token: the optional web server of sonic-seed and sonic-index.
public struct HTTPOptions: ParsableArguments, Sendable {
    public static let tokenVariable = "SONIC_HTTP_TOKEN"

    @Option(help: ArgumentHelp(
        "Serve the web app and API on [HOST:]PORT (host default 127.0.0.1; 0: any free port). Off by default.",
        valueName: "address"))
    var http: String?

    @Option(help: ArgumentHelp(
        "File holding the web access token (default: $SONIC_HTTP_TOKEN). Required to serve HTTP on a non-loopback address.",
        valueName: "path"))
    var httpTokenFile: String?

    public init() {}

    /// Where to serve HTTP, or nil when `--http` is not given.
    public func address() throws -> Endpoint? {
        guard let http else { return nil }
        if let port = Int(http) {
            guard (0...65535).contains(port) else { throw ValidationError("--http port must be 0...65535") }
            return Endpoint(host: "127.0.0.1", port: port)
        }
        guard let endpoint = Endpoint(parsing: http) else { throw ValidationError("--http wants [HOST:]PORT, not \(http)") }
        return endpoint
    }

    /// The token from `--http-token-file` (trailing newline ignored) or `$SONIC_HTTP_TOKEN`.
    public func token() throws -> String? {
        var text: String?
        if let httpTokenFile {
            guard let data = FileManager.default.contents(atPath: httpTokenFile) else {
                throw ValidationError("cannot read the token file \(httpTokenFile)")
            }
            text = String(decoding: data, as: UTF8.self).trimmingWhitespace()
        } else if let env = ProcessInfo.processInfo.environment[Self.tokenVariable] {
            text = env
        }
        guard let text else { return nil }
        guard !text.isEmpty else { throw ValidationError("the HTTP token is empty") }
        return text
    }

    public mutating func validate() throws {
        _ = try address()
        _ = try token()
    }
}
