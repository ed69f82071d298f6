import Foundation
import SonicCore
import SonicTestSupport
import Testing

/// A seeder with its web app (`--http 0`), started on a ``TestNetwork``.
struct WebPeer {
    let program: Program
    let folder: URL
    let http: HTTPClient

    /// Waits (bounded) for `http on http://HOST:PORT/`, a line after `listening on` (the
    /// `peer id` line may come before or after it).
    static func httpAddress(of program: Program, timeout: Duration = .seconds(20)) async throws -> Endpoint {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let lines = program.stdout.split(separator: "\n").dropFirst()
            if let line = lines.first(where: { $0.hasPrefix("http on http://") }), line.hasSuffix("/"),
               let e = Endpoint(parsing: String(line.dropFirst("http on http://".count).dropLast())) {
                return e
            }
            guard program.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw HarnessError("no `http on` line; stdout:\n\(program.stdout)\nstderr:\n\(program.stderr)")
    }

    static func start(_ net: TestNetwork, folder: URL, extra: [String] = [], environment: [String: String] = [:])
        async throws -> WebPeer {
        let program = try await net.addSeeder(folder: folder, extra: ["--http", "0"] + extra, environment: environment)
        return WebPeer(program: program, folder: folder, http: HTTPClient(address: try await httpAddress(of: program)))
    }

    /// Polls GET `path` until `condition` holds on its JSON (bounded).
    func waitFor(_ what: String, _ path: String, timeout: Duration = .seconds(60),
                 _ condition: @escaping ([String: Any]) -> Bool) async throws -> [String: Any] {
        try await http.waitFor(what, path, timeout: timeout, condition)
    }

    func download(_ id: String) async throws -> [String: Any] {
        try await http.get("/api/v1/downloads/\(id)").json
    }

    /// Waits until a download reaches `state`; fails at once if it fails instead.
    func waitForDownload(_ id: String, state: String, timeout: Duration = .seconds(90)) async throws -> [String: Any] {
        try await waitFor("download \(id) is \(state)", "/api/v1/downloads/\(id)", timeout: timeout) { d in
            if (d["state"] as? String) == "failed" && state != "failed" {
                Issue.record("download failed: \(d["error"] ?? "-")")
                return true
            }
            return (d["state"] as? String) == state
        }
    }

    func sharedNames() async throws -> [String] {
        ((try await http.get("/api/v1/files").json["files"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
    }
}

extension HTTPClient {
    /// Polls GET `path` until `condition` holds on its JSON (bounded).
    func waitFor(_ what: String, _ path: String, timeout: Duration = .seconds(60),
                 _ condition: @escaping ([String: Any]) -> Bool) async throws -> [String: Any] {
        var last: Reply?
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await get(path)
            last = reply
            if reply.status == 200, condition(reply.json) { return reply.json }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("timed out waiting until \(what); last: \(last.map { "\($0)" } ?? "-")")
    }
}
