import Foundation
import SonicCore
import SonicTestSupport
import Testing

/// The OpenAPI document against the server's real responses: every endpoint is called
/// (successes and errors), and each reply is checked by jsonschema and
/// openapi-spec-validator (PyPI; `.ci/run` installs them) through Tests/tools/openapi_check.py.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WebOpenAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everyResponseMatchesTheDocument() async throws {
        let bytes = Harness.randomBytes(count: 2 << 20, seed: 51)
        let source = try Harness.sharedFolder("doc test.bin", bytes)
        let mine = try Harness.sharedFolder("mine.txt", Array("mine".utf8), tag: "web")
        let work = try Harness.temporaryDirectory("openapi")
        let net = try await TestNetwork()
        defer { [source, mine, work].forEach { try? FileManager.default.removeItem(at: $0) } }
        var samples: [[String: Any]] = []
        try await net.run {
            try await net.addSeeder(folder: source, extra: ["--max-upload-rate", "2MiB"])
            let web = try await WebPeer.start(net, folder: mine, extra: ["--max-upload", "1KiB"])
            try await SwarmTests.waitForPeers(net, name: "doc test.bin", count: 1)
            func record(_ method: String, _ template: String, _ reply: HTTPClient.Reply) {
                let body: Any = (try? JSONSerialization.jsonObject(with: reply.body, options: [.fragmentsAllowed])) ?? NSNull()
                samples.append(["method": method, "path": template, "status": reply.status,
                                "content_type": reply.header("Content-Type") ?? "", "body": body])
            }
            let http = web.http
            record("GET", "/api/v1/status", try await http.get("/api/v1/status"))
            record("GET", "/api/v1/files", try await http.get("/api/v1/files"))
            record("POST", "/api/v1/files", try await http.request("POST", "/api/v1/files?name=up.txt", body: Data("u".utf8)))
            record("POST", "/api/v1/files", try await http.request("POST", "/api/v1/files?name=../x", body: Data("u".utf8)))
            record("POST", "/api/v1/files", try await http.request("POST", "/api/v1/files?name=up.txt", body: Data("u".utf8)))
            record("POST", "/api/v1/files", try await http.request("POST", "/api/v1/files?name=big", body: Data(count: 2048)))
            record("POST", "/api/v1/files", try await http.request("POST", "/api/v1/files?name=y", stateHeader: false))
            record("GET", "/api/v1/search", try await http.get("/api/v1/search?q="))
            record("GET", "/api/v1/search", try await http.get("/api/v1/search?q=doc&limit=1&offset=0"))
            record("GET", "/api/v1/search", try await http.get("/api/v1/search?limit=9999"))
            record("POST", "/api/v1/downloads", try await http.request("POST", "/api/v1/downloads", body: Data("{".utf8)))
            record("POST", "/api/v1/downloads", try await http.json("POST", "/api/v1/downloads", ["name": "none.bin"]))
            let started = try await http.json("POST", "/api/v1/downloads", ["name": "doc test.bin"])
            record("POST", "/api/v1/downloads", started)
            let id = try #require(started.json["id"] as? String, "\(started)")
            record("GET", "/api/v1/downloads", try await http.get("/api/v1/downloads"))
            record("GET", "/api/v1/downloads/{id}", try await http.get("/api/v1/downloads/\(id)"))
            record("GET", "/api/v1/downloads/{id}", try await http.get("/api/v1/downloads/nope"))
            let paused = try await http.request("POST", "/api/v1/downloads/\(id)/pause")
            record("POST", "/api/v1/downloads/{id}/pause", paused)
            if paused.status == 200 {
                record("POST", "/api/v1/downloads/{id}/pause", try await http.request("POST", "/api/v1/downloads/\(id)/pause"))
                record("POST", "/api/v1/downloads/{id}/resume", try await http.request("POST", "/api/v1/downloads/\(id)/resume"))
            }
            record("POST", "/api/v1/downloads/{id}/resume", try await http.request("POST", "/api/v1/downloads/nope/resume"))
            let done = try await web.waitForDownload(id, state: "completed")
            record("GET", "/api/v1/downloads/{id}", HTTPClient.Reply(status: 200, headers: [("Content-Type", "application/json")],
                                                                   body: try JSONSerialization.data(withJSONObject: done)))
            record("GET", "/api/v1/status", try await http.request("GET", "/api/v1/status", host: "evil.example"))
            record("POST", "/api/v1/login", try await http.json("POST", "/api/v1/login", ["token": "x"]))
            record("DELETE", "/api/v1/downloads/{id}", try await http.request("DELETE", "/api/v1/downloads/\(id)"))
            record("DELETE", "/api/v1/downloads/{id}", try await http.request("DELETE", "/api/v1/downloads/\(id)"))
            record("GET", "/api/v1/openapi.json", try await http.get("/api/v1/openapi.json"))
            record("GET", "/metrics", try await http.get("/metrics"))

            // The served document is docs/openapi.json.
            let served = try JSONSerialization.jsonObject(with: try await http.get("/api/v1/openapi.json").body) as? NSDictionary
            let onDisk = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"))) as? NSDictionary
            #expect(served == onDisk, "docs/openapi.json differs from the served document")
        }
        // Every documented operation was exercised.
        let documented = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.json")))
        let paths = ((documented as? [String: Any])?["paths"] as? [String: [String: Any]]) ?? [:]
        let operations = Set(paths.flatMap { path, ops in ops.keys.filter { $0 != "parameters" }.map { "\($0.uppercased()) \(path)" } })
        let exercised = Set(samples.map { "\($0["method"]!) \($0["path"]!)" })
        #expect(operations.subtracting(exercised).subtracting(["GET /api/v1/events"]).isEmpty,
                "not exercised: \(operations.subtracting(exercised))")

        let samplesFile = work.appendingPathComponent("samples.json")
        try JSONSerialization.data(withJSONObject: samples, options: [.prettyPrinted]).write(to: samplesFile)
        let checker = try Program("/usr/bin/env", ["python3", Self.root.appendingPathComponent("Tests/tools/openapi_check.py").path,
                                                   Self.root.appendingPathComponent("docs/openapi.json").path, samplesFile.path],
                                  absolute: true)
        let status = try await checker.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "openapi_check.py:\n\(checker.stdout)\(checker.stderr)")
        #expect(checker.stdout.contains("0 problems"))
    }
}
