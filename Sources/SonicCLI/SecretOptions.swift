import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicNet

/// `--secret-file` / `SONIC_SECRET`: makes a program a member of a members-only network.
public struct SecretOptions: ParsableArguments, Sendable {
    public static let environmentVariable = "SONIC_SECRET"

    @Option(help: ArgumentHelp(
        "File holding the network secret: only peers that know it may join (default: $SONIC_SECRET, else an open network).",
        valueName: "path"))
    var secretFile: String?

    public init() {}

    /// The secret from `--secret-file` (one trailing newline ignored) or `$SONIC_SECRET`; nil for an open network.
    public func load() throws -> NetworkSecret? {
        var text: String?
        if let secretFile {
            guard let data = FileManager.default.contents(atPath: secretFile) else {
                throw ValidationError("cannot read the secret file \(secretFile)")
            }
            text = String(decoding: data, as: UTF8.self)
            if text?.hasSuffix("\n") == true { text?.removeLast() }
            if text?.hasSuffix("\r") == true { text?.removeLast() }
        } else if let env = ProcessInfo.processInfo.environment[Self.environmentVariable] {
            text = env
        }
        guard let text else { return nil }
        guard !text.isEmpty else { throw ValidationError("the network secret is empty") }
        return NetworkSecret(Array(text.utf8))
    }

    public mutating func validate() throws {
        _ = try load()
    }
}
