import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicCore
import SonicNet

/// `--tls on|off`.
public enum TLSMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case on, off
}

/// `--tls` and `--state-dir`, shared by every program: whether connections run TLS, and where
/// this program keeps its identity (key and self-signed certificate) and the peer ids of the
/// indexes it has met (docs/SECURITY.md).
public struct TransportOptions: ParsableArguments, Sendable {
    public static let environmentVariable = "SONIC_TLS"

    @Option(name: .customLong("tls"), help: ArgumentHelp(
        "TLS 1.3 on every connection: on, or off for trusted labs and benchmarks. Both sides must agree.",
        discussion: "Default: $SONIC_TLS, else on.",
        valueName: "on|off"))
    var tlsFlag: TLSMode?

    /// `--tls`, else `$SONIC_TLS` (`on` or `off`), else on.
    public var tls: TLSMode {
        tlsFlag ?? ProcessInfo.processInfo.environment[Self.environmentVariable].flatMap(TLSMode.init(rawValue:)) ?? .on
    }

    @Option(help: ArgumentHelp(
        "Folder for this program's identity (identity.pem) and the peer ids of the indexes it has met (known-indexes).",
        discussion: "Default: $XDG_STATE_HOME/sonic-share, else ~/.local/state/sonic-share.",
        valueName: "path"))
    public var stateDir: String?

    public init() {}

    public mutating func validate() throws {
        if tlsFlag == nil, let env = ProcessInfo.processInfo.environment[Self.environmentVariable],
           TLSMode(rawValue: env) == nil {
            throw ValidationError("$\(Self.environmentVariable) must be on or off, got \(env.debugDescription)")
        }
    }

    /// `--state-dir`, else `$XDG_STATE_HOME/sonic-share`, else `~/.local/state/sonic-share`.
    public var stateDirectory: String {
        if let stateDir { return stateDir }
        let env = ProcessInfo.processInfo.environment
        if let state = env["XDG_STATE_HOME"], !state.isEmpty { return state + "/sonic-share" }
        return (env["HOME"] ?? FileManager.default.temporaryDirectory.path) + "/.local/state/sonic-share"
    }

    /// TLS with this program's identity (made on first use), or plain with `--tls off`.
    public func transport() throws -> TransportSecurity {
        guard tls == .on else { return .off }
        return try .tls(PeerIdentity.loadOrCreate(inDirectory: stateDirectory))
    }

    /// Which peer id each index must present: `--index HOST:PORT#PEERID` pins, and the
    /// known-indexes file of the state dir for the others.
    public func indexTrust(_ index: IndexOptions) throws -> IndexTrust {
        let pins = try index.pins()
        if !pins.isEmpty && tls == .off {
            throw ValidationError("--index HOST:PORT#PEERID pins the index's TLS identity; it needs --tls on")
        }
        return IndexTrust(pins: pins, knownIndexesPath: stateDirectory + "/" + IndexTrust.fileName)
    }
}
