import ArgumentParser
import SonicCore
import SonicNet
import SonicWire

/// A failure a program reports in one line, then exits with `exitCode`. `code` is the stable
/// name in the `--json` error object.
public struct CommandError: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: ExitCode
    public var code: String
    /// A `--json` document that already describes the failure was printed (a download
    /// summary with its own `error` field): print no second one.
    public var jsonPrinted: Bool

    public init(_ message: String, exitCode: ExitCode, code: String, jsonPrinted: Bool = false) {
        self.message = message
        self.exitCode = exitCode
        self.code = code
        self.jsonPrinted = jsonPrinted
    }

    public var description: String { message }

    /// The `{"error": {"code": …, "message": …}}` object of `--json` output.
    public var json: JSONValue {
        .object([("error", .object([("code", .string(code)), ("message", .string(message))]))])
    }
}

/// Turns every error a command's body throws into one line on standard error, prefixed with
/// the program's name (`sonic-get: …`), plus a JSON error object on standard output with
/// `--json`, and the documented exit code. Library errors say what happened; the hints about
/// this program's flags are added here.
public enum CommandFailure {
    public static func reporting<T>(_ program: String, json: Bool, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch let validation as ValidationError {
            throw validation
        } catch {
            let failure = describe(error)
            Console.err("\(program): \(failure.message)")
            if json && !failure.jsonPrinted { Console.out(failure.json.text) }
            throw failure.exitCode
        }
    }

    public static func describe(_ error: any Error) -> CommandError {
        switch error {
        case let failure as CommandError:
            return failure
        case let unavailable as IndexUnavailable:
            return CommandError("\(unavailable); is sonic-index running there? (--index or \(IndexOptions.environmentVariable))",
                                exitCode: ExitStatus.indexUnavailable, code: "index_unavailable")
        case let refused as IndexRefused where refused.reason.isIdentityMismatch || refused.reason.isTLSMismatch:
            return describe(refused.reason)
        case let refused as IndexRefused where refused.isMembership:
            return CommandError("\(refused); check --secret-file or SONIC_SECRET",
                                exitCode: ExitStatus.notAuthorized, code: "not_authorized")
        case let refused as IndexRefused:
            return CommandError("\(refused); check --index or SONIC_INDEX", exitCode: ExitCode.failure, code: "index_refused")
        case SessionError.secretRequired:
            return CommandError("\(SessionError.secretRequired): give its secret with --secret-file or SONIC_SECRET",
                                exitCode: ExitStatus.notAuthorized, code: "not_authorized")
        case SessionError.notMember:
            return CommandError("\(SessionError.notMember); check --secret-file or SONIC_SECRET",
                                exitCode: ExitStatus.notAuthorized, code: "not_authorized")
        case SessionError.remote(let e) where e.code == .notAuthorized:
            return CommandError("refused: \(e.message); check --secret-file or SONIC_SECRET",
                                exitCode: ExitStatus.notAuthorized, code: "not_authorized")
        case let changed as IndexIdentityChanged:
            return CommandError(changed.description, exitCode: ExitStatus.security, code: "identity_changed")
        case SessionError.identityMismatch(let endpoint, let expected, let presented):
            return CommandError("\(endpoint) presented peer id \(presented), not the pinned \(expected): refused; "
                                + "someone may be intercepting the connection (or the pin in --index is wrong)",
                                exitCode: ExitStatus.security, code: "identity_mismatch")
        case SessionError.serverWithoutTLS(let endpoint):
            return CommandError("\(SessionError.serverWithoutTLS(endpoint))", exitCode: ExitCode.failure, code: "tls_mismatch")
        case SessionError.remote(let e) where e.code == .tlsMismatch:
            return CommandError("refused: \(e.message)", exitCode: ExitCode.failure, code: "tls_mismatch")
        case let identity as IdentityError:
            return CommandError("\(identity); check --state-dir", exitCode: ExitCode.failure, code: "identity")
        case let listen as ListenFailed:
            let hint = listen.addressInUse ? "; another program uses that port: pick another --port, or --port 0 for any free one" : ""
            return CommandError("\(listen)\(hint)", exitCode: ExitCode.failure, code: "cannot_listen")
        case let tooLong as WireLimits.StringTooLong:
            return CommandError(tooLong.description, exitCode: ExitCode.validationFailure, code: "invalid_argument")
        default:
            return CommandError(String(describing: error), exitCode: ExitCode.failure, code: "failed")
        }
    }
}
