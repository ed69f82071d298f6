#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import ArgumentParser
import SonicCore

extension ByteCount: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { description.replacingSpaces() }

    /// What a size or rate option accepts (README, "Sizes, rates and durations").
    public static let acceptedForms = "a number of bytes with an optional unit: 4096, 500K or 500KiB, 20M or 20MiB, "
        + "1G or 1GiB (powers of 1024), 500KB, 20MB, 1GB (powers of 1000); rates may end in /s"

    /// Parses an option's value, with an error that lists the accepted forms. Options that
    /// take it use `parsing: .unconditional`, so `-5` reaches here instead of reading as a flag.
    public static func argument(_ text: String) throws -> ByteCount {
        try parsedArgument(text, { ByteCount(parsing: $0) }, kind: "a size", forms: acceptedForms)
    }
}

extension DurationText: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { description }

    public static let acceptedForms = "a number with an optional unit: 500ms, 15s, 2m, 1h (no unit: seconds)"

    /// Parses an option's value, with an error that lists the accepted forms.
    public static func argument(_ text: String) throws -> DurationText {
        try parsedArgument(text, { DurationText(parsing: $0) }, kind: "a duration", forms: acceptedForms)
    }
}

/// `parse(text)`, or a usage error that says why not and lists the accepted `forms`.
private func parsedArgument<Value>(_ text: String, _ parse: (String) -> Value?, kind: String, forms: String) throws -> Value {
    guard let value = parse(text) else {
        let why = text.trimmingWhitespace().hasPrefix("-") ? "must not be negative" : "is not \(kind)"
        throw ValidationError("\(text.debugDescription) \(why); use \(forms)")
    }
    return value
}

/// `--index a:5015,b:5016#PEERID`: one or more index endpoints, each optionally pinned to
/// the peer id its TLS certificate must carry.
public struct EndpointList: ExpressibleByArgument, Sendable, CustomStringConvertible {
    public var endpoints: [Endpoint]
    public var pins: [Endpoint: PeerID] = [:]

    public init(_ endpoints: [Endpoint]) { self.endpoints = endpoints }

    public init?(argument: String) {
        guard let list = try? Self.parsePinned(argument) else { return nil }
        self = list
    }

    /// Parses `HOST:PORT[#PEERID],...`; a malformed peer id is an error that says what is wrong.
    static func parsePinned(_ text: String) throws -> EndpointList? {
        var endpoints: [Endpoint] = []
        var pins: [Endpoint: PeerID] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "#", maxSplits: 1)
            guard let first = parts.first,
                  let endpoint = Endpoint.parseList(String(first), defaultPort: IndexOptions.defaultPort)?.first else { return nil }
            endpoints.append(endpoint)
            if parts.count == 2 {
                do {
                    pins[endpoint] = try PeerID(parsing: String(parts[1]))
                } catch {
                    throw ValidationError("the peer id pinned for \(endpoint) is not valid: \(error)")
                }
            }
        }
        guard !endpoints.isEmpty else { return nil }
        var list = EndpointList(endpoints)
        list.pins = pins
        return list
    }

    /// Parses `--index`, with an error that shows the accepted form.
    public static func parse(_ argument: String) throws -> EndpointList {
        guard let list = try parsePinned(argument) else {
            let url = argument.contains("://") ? " (not a URL)" : ""
            throw ValidationError("--index takes HOST:PORT[#PEERID][,HOST:PORT...], e.g. 127.0.0.1:5015 or [::1]:5015\(url); "
                                  + "got \(argument.debugDescription)")
        }
        return list
    }

    public var description: String {
        endpoints.map { e in pins[e].map { "\(e)#\($0)" } ?? e.description }.joined(separator: ",")
    }
    public var defaultValueDescription: String { description }
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
