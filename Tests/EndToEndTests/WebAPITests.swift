import Foundation
import SonicCore
import SonicTestSupport
import Testing

/// The peer's HTTP API against the real programs: an index, a seeder sharing a file, and a
/// seeder with `--http 0` whose API is driven over loopback.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WebAPITests {
    static let multiPiece = 3 << 20 + 12345

    @Test func statusFilesSearchAndTheErrorShape() async throws {
        let bytes = Harness.randomBytes(count: Self.multiPiece, seed: 41)
        let source = try Harness.sharedFolder("alpha song.bin", bytes)
        try Data("hello".utf8).write(to: source.appendingPathComponent("beta notes.txt"))
        let mine = try Harness.sharedFolder("mine.txt", Array("my own file".utf8), tag: "web")
        let net = try await TestNetwork()
        defer { [source, mine].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: source)
            let web = try await WebPeer.start(net, folder: mine)

            let status = try await web.waitFor("the index answers", "/api/v1/status") { s in
                ((s["indexes"] as? [[String: Any]])?.first?["reachable"] as? Bool) == true
            }
            #expect(status["address"] as? String == net.seederAddresses[1].description)
            #expect(status["peer_id"] as? String == (try await web.program.announcedPeerID()).description)
            #expect(status["shared_files"] as? Int == 1)
            #expect((status["indexes"] as? [[String: Any]])?.first?["address"] as? String == net.indexAddress.description)

            let files = try await web.http.get("/api/v1/files").json["files"] as? [[String: Any]] ?? []
            #expect(files.count == 1)
            #expect(files.first?["name"] as? String == "mine.txt")
            #expect(files.first?["sha256"] as? String == SHA256Hash.of(Array("my own file".utf8)).hex)
            #expect((files.first?["content_id"] as? String)?.count == 64)
            #expect(files.first?["bytes_served"] as? Int == 0)

            // Blank search: every file in the network, grouped by content.
            let all = try await web.waitFor("every file is found", "/api/v1/search?q=") { page in
                (page["total"] as? Int) == 3
            }
            let names = Set((all["results"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
            #expect(names == ["alpha song.bin", "beta notes.txt", "mine.txt"])
            let alpha = (all["results"] as? [[String: Any]])?.first { $0["name"] as? String == "alpha song.bin" }
            #expect(alpha?["peer_count"] as? Int == 1)
            #expect(alpha?["sha256"] as? String == SHA256Hash.of(bytes).hex)
            #expect(alpha?["size"] as? Int == Self.multiPiece)

            // Keywords and paging.
            let keyword = try await web.http.get("/api/v1/search?q=SONG").json
            #expect((keyword["results"] as? [[String: Any]])?.map { $0["name"] as? String } == ["alpha song.bin"])
            let page = try await web.http.get("/api/v1/search?q=&offset=1&limit=1").json
            #expect(page["total"] as? Int == 3)
            #expect((page["results"] as? [[String: Any]])?.count == 1)
            #expect(page["offset"] as? Int == 1)

            // One error shape everywhere.
            for (path, status, code) in [("/api/v1/search?limit=0", 400, "bad_request"),
                                         ("/api/v1/nothing-here", 404, "not_found"),
                                         ("/api/v1/downloads/0000", 404, "not_found")] {
                let reply = try await web.http.get(path)
                #expect(reply.status == status, "\(path): \(reply)")
                #expect(reply.errorCode == code, "\(path): \(reply)")
                #expect(((reply.json["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
            }
            let badBody = try await web.http.request("POST", "/api/v1/downloads", body: Data("not json".utf8))
            #expect(badBody.status == 400 && badBody.errorCode == "bad_request", "\(badBody)")
            let unknown = try await web.http.json("POST", "/api/v1/downloads", ["name": "no such file.bin"])
            #expect(unknown.status == 404 && unknown.errorCode == "not_found", "\(unknown)")

            let openapi = try await web.http.get("/api/v1/openapi.json")
            #expect(openapi.status == 200)
            #expect((openapi.json["openapi"] as? String)?.hasPrefix("3.") == true)

            let page1 = try await web.http.get("/")
            #expect(page1.status == 200 && page1.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(page1.text.contains("Sonic Share"))
        }
    }

    @Test func aDownloadThroughTheAPIIsVerifiedSharedAndReported() async throws {
        let bytes = Harness.randomBytes(count: Self.multiPiece, seed: 42)
        let sources = try SwarmTests.sharedFolders(2, name: "wanted.bin", bytes: bytes)
        let mine = try Harness.temporaryDirectory("web")
        let net = try await TestNetwork()
        defer { (sources + [mine]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            for s in sources { try await net.addSeeder(folder: s) }
            let web = try await WebPeer.start(net, folder: mine, extra: ["--downloads", "incoming"])
            try await SwarmTests.waitForPeers(net, name: "wanted.bin", count: 2)

            // The event stream, read while the download runs.
            async let events = web.http.readEvents { text in
                text.contains("\"state\":\"completed\"") && text.contains("event: file_added")
            }
            let search = try await web.http.get("/api/v1/search?q=wanted").json
            let hit = try #require((search["results"] as? [[String: Any]])?.first)
            let id = try #require(hit["content_id"] as? String)
            let started = try await web.http.json("POST", "/api/v1/downloads", ["content_id": id])
            #expect(started.status == 202, "\(started)")
            #expect(started.json["id"] as? String == id)

            let done = try await web.waitForDownload(id, state: "completed")
            #expect(done["verified_bytes"] as? Int == Self.multiPiece)
            #expect(done["path"] as? String == "incoming/wanted.bin")
            let peerBytes = (done["peers"] as? [[String: Any]] ?? []).compactMap { $0["bytes"] as? Int }.reduce(0, +)
            #expect(peerBytes == Self.multiPiece)
            let file = mine.appendingPathComponent("incoming/wanted.bin")
            #expect(try Harness.sha256(ofFile: file) == SHA256Hash.of(bytes).hex)
            // No partial file or resume record is left behind (only the downloads journal).
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: mine.appendingPathComponent("incoming").path)
            #expect(leftovers.sorted() == [".sonic-downloads.json", "wanted.bin"])

            // Shared like any other file, and the index hears of a third holder.
            _ = try await web.waitFor("the download is shared", "/api/v1/files") { j in
                (j["files"] as? [[String: Any]])?.contains { $0["name"] as? String == "incoming/wanted.bin" } == true
            }
            _ = try await net.waitForSearch([], until: { results in
                results.contains { ($0["content_id"] as? String) == id && ($0["peers"] as? [String])?.count == 3 }
            })

            let text = try await events
            #expect(text.contains("event: download"))
            #expect(text.contains("event: peers"), "the peers found for the download are announced")
            #expect(text.contains("\"state\":\"running\""))

            let list = try await web.http.get("/api/v1/downloads").json["downloads"] as? [[String: Any]] ?? []
            #expect(list.map { $0["id"] as? String } == [id])

            // Asking again for a content already shared answers at once.
            let again = try await web.http.json("POST", "/api/v1/downloads", ["name": "wanted.bin"])
            #expect(again.status == 202 && again.json["state"] as? String == "completed", "\(again)")

            let metrics = try await web.http.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
            #expect(Self.metric(metrics.text, "sonic_bytes_down_total{kind=\"raw\"}") == Double(Self.multiPiece))
            #expect((Self.metric(metrics.text, "sonic_bytes_down_total{kind=\"wire\"}") ?? 0) > 0)
            #expect((Self.metric(metrics.text, "sonic_pieces_verified_total") ?? 0) >= 1)
            #expect((Self.metric(metrics.text, "sonic_http_requests_total") ?? 0) >= 5)

            // Cancelling a finished download only removes it from the list; the file stays shared.
            let removed = try await web.http.request("DELETE", "/api/v1/downloads/\(id)")
            #expect(removed.status == 204)
            #expect(FileManager.default.fileExists(atPath: file.path))
        }
    }

    @Test func pauseResumeCancelAndResumeAfterARestart() async throws {
        let bytes = Harness.randomBytes(count: 4 << 20, seed: 43)
        let source = try Harness.sharedFolder("slow.bin", bytes)
        let mine = try Harness.temporaryDirectory("web")
        let net = try await TestNetwork()
        defer { [source, mine].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            // Slow enough that pausing and stopping happen mid-download.
            try await net.addSeeder(folder: source, extra: ["--max-upload-rate", "1MiB"])
            let web = try await WebPeer.start(net, folder: mine)
            try await SwarmTests.waitForPeers(net, name: "slow.bin", count: 1)
            let started = try await web.http.json("POST", "/api/v1/downloads", ["name": "slow.bin"])
            let id = try #require(started.json["id"] as? String, "\(started)")
            let running = try await web.waitFor("some bytes arrive", "/api/v1/downloads/\(id)") {
                ($0["verified_bytes"] as? Int ?? 0) > 0
            }
            // Per-peer bytes while it runs, not only at the end.
            let peerBytes = (running["peers"] as? [[String: Any]] ?? []).compactMap { $0["bytes"] as? Int }
            #expect(peerBytes.reduce(0, +) > 0, "\(running)")

            let paused = try await web.http.request("POST", "/api/v1/downloads/\(id)/pause")
            #expect(paused.status == 200 && paused.json["state"] as? String == "paused", "\(paused)")
            #expect(FileManager.default.fileExists(atPath: mine.appendingPathComponent(".slow.bin.sonic-part").path))
            let pausedTwice = try await web.http.request("POST", "/api/v1/downloads/\(id)/pause")
            #expect(pausedTwice.status == 409 && pausedTwice.errorCode == "bad_state")
            let resumed = try await web.http.request("POST", "/api/v1/downloads/\(id)/resume")
            #expect(resumed.status == 200, "\(resumed)")
            try await Harness.waitForCheckpoint(of: "slow.bin", in: mine, program: web.program)

            // Stopped mid-download, the peer picks the download up again when it restarts.
            await web.program.stop()
            #expect(!FileManager.default.fileExists(atPath: mine.appendingPathComponent("slow.bin").path))
            let again = try await WebPeer.start(net, folder: mine)
            let done = try await again.waitForDownload(id, state: "completed")
            #expect(done["name"] as? String == "slow.bin")
            #expect(try Harness.sha256(ofFile: mine.appendingPathComponent("slow.bin")) == SHA256Hash.of(bytes).hex)

            // Cancel: a new download of another file is stopped and its partial file removed.
            try Data(Harness.randomBytes(count: 4 << 20, seed: 44)).write(to: source.appendingPathComponent("other.bin"))
            try await SwarmTests.waitForPeers(net, name: "other.bin", count: 1)
            let other = try await again.http.json("POST", "/api/v1/downloads", ["name": "other.bin"])
            let otherID = try #require(other.json["id"] as? String, "\(other)")
            _ = try await again.waitFor("other.bin starts", "/api/v1/downloads/\(otherID)") { ($0["verified_bytes"] as? Int ?? 0) > 0 }
            let cancelled = try await again.http.request("DELETE", "/api/v1/downloads/\(otherID)")
            #expect(cancelled.status == 204)
            #expect(try await again.http.get("/api/v1/downloads/\(otherID)").status == 404)
            #expect(!FileManager.default.fileExists(atPath: mine.appendingPathComponent(".other.bin.sonic-part").path))
            #expect(!FileManager.default.fileExists(atPath: mine.appendingPathComponent(".other.bin.sonic-resume").path))
        }
    }

    @Test func uploadsStayInsideTheFolder() async throws {
        let outside = try Harness.temporaryDirectory("outside")
        let mine = try Harness.temporaryDirectory("web")
        let net = try await TestNetwork()
        defer { [outside, mine].forEach { try? FileManager.default.removeItem(at: $0) } }
        try FileManager.default.createSymbolicLink(atPath: mine.appendingPathComponent("escape").path,
                                                   withDestinationPath: outside.path)
        try await net.run {
            let web = try await WebPeer.start(net, folder: mine, extra: ["--max-upload", "64KiB"])
            let content = Data("shared through the browser\n".utf8)
            let ok = try await web.http.request("POST", "/api/v1/files?name=notes/new%20file.txt", body: content)
            #expect(ok.status == 201, "\(ok)")
            #expect(ok.json["sha256"] as? String == SHA256Hash.of(Array(content)).hex)
            #expect(try Data(contentsOf: mine.appendingPathComponent("notes/new file.txt")) == content)
            _ = try await web.waitFor("the upload is shared", "/api/v1/files") { j in
                (j["files"] as? [[String: Any]])?.contains { $0["name"] as? String == "notes/new file.txt" } == true
            }
            try await SwarmTests.waitForPeers(net, name: "notes/new file.txt", count: 1)

            let taken = try await web.http.request("POST", "/api/v1/files?name=notes/new%20file.txt", body: content)
            #expect(taken.status == 409 && taken.errorCode == "name_taken", "\(taken)")

            for name in ["../evil.txt", "%2E%2E/evil.txt", "/tmp/evil.txt", "a/../../evil.txt", "notes/../../evil.txt",
                         ".hidden", "notes/.sonic-part", "escape/evil.txt", "a//b.txt", "a/%00b"] {
                let reply = try await web.http.request("POST", "/api/v1/files?name=\(name)", body: Data("x".utf8))
                #expect(reply.status == 400 && reply.errorCode == "bad_name", "\(name): \(reply)")
                #expect(!reply.text.contains(mine.path) && !reply.text.contains(outside.path), "\(name) reveals a path: \(reply)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: mine.deletingLastPathComponent().appendingPathComponent("evil.txt").path))

            let big = try await web.http.request("POST", "/api/v1/files?name=big.bin", body: Data(count: 65 << 10))
            #expect(big.status == 413 && big.errorCode == "too_large", "\(big)")
            #expect(!FileManager.default.fileExists(atPath: mine.appendingPathComponent("big.bin").path))
            // No temporary file is left behind by refused or failed uploads.
            let hidden = try FileManager.default.contentsOfDirectory(atPath: mine.path).filter { $0.hasPrefix(".") && $0.contains("upload") }
            #expect(hidden.isEmpty)
        }
    }

    @Test func hostCrossSiteAndCorsChecks() async throws {
        let mine = try Harness.sharedFolder("a.txt", Array("a".utf8), tag: "web")
        let net = try await TestNetwork()
        defer { try? FileManager.default.removeItem(at: mine) }
        try await net.run {
            let web = try await WebPeer.start(net, folder: mine)
            // DNS rebinding: a foreign name in Host is refused, on the page and on the API.
            for path in ["/", "/api/v1/status"] {
                let rebound = try await web.http.request("GET", path, host: "evil.example:\(web.http.address.port)")
                #expect(rebound.status == 421 && rebound.errorCode == "bad_host", "\(rebound)")
            }
            let otherPort = try await web.http.request("GET", "/api/v1/status", host: "127.0.0.1:1")
            #expect(otherPort.status == 421)
            #expect(try await web.http.request("GET", "/api/v1/files", host: "localhost:\(web.http.address.port)").status == 200)

            // A cross-site HTML form: a simple request, no custom header, possibly an Origin.
            let form = try await web.http.request(
                "POST", "/api/v1/downloads", headers: ["Content-Type": "application/x-www-form-urlencoded",
                                                       "Origin": "http://evil.example"],
                body: Data("name=a.txt".utf8), stateHeader: false)
            #expect(form.status == 403 && form.errorCode == "cross_origin", "\(form)")
            let noOrigin = try await web.http.request(
                "POST", "/api/v1/files?name=planted.txt", headers: ["Content-Type": "text/plain"],
                body: Data("x".utf8), stateHeader: false)
            #expect(noOrigin.status == 403 && noOrigin.errorCode == "csrf", "\(noOrigin)")
            #expect(!FileManager.default.fileExists(atPath: mine.appendingPathComponent("planted.txt").path))
            for path in ["/api/v1/downloads/x/pause", "/api/v1/login"] {
                let r = try await web.http.request("POST", path, stateHeader: false)
                #expect(r.status == 403, "\(path): \(r)")
            }
            let delete = try await web.http.request("DELETE", "/api/v1/downloads/x", stateHeader: false)
            #expect(delete.status == 403)

            // No CORS grant, not even to a preflight.
            let preflight = try await web.http.request(
                "OPTIONS", "/api/v1/downloads",
                headers: ["Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
                          "Access-Control-Request-Headers": "x-sonic-request"], stateHeader: false)
            #expect(preflight.headers.allSatisfy { !$0.0.lowercased().hasPrefix("access-control-") }, "\(preflight.headers)")
            let plain = try await web.http.request("GET", "/api/v1/status", headers: ["Origin": "http://evil.example"])
            #expect(plain.headers.allSatisfy { !$0.0.lowercased().hasPrefix("access-control-") })
            #expect(plain.header("X-Content-Type-Options") == "nosniff")
        }
    }

    @Test func aTokenGuardsEverythingButTheLogin() async throws {
        let mine = try Harness.sharedFolder("a.txt", Array("a".utf8), tag: "web")
        let tokenFile = mine.deletingLastPathComponent().appendingPathComponent("token-\(UUID().uuidString.prefix(8))")
        try Data("s3cret-token\n".utf8).write(to: tokenFile)
        let net = try await TestNetwork()
        defer { [mine, tokenFile].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            // Refused: a non-loopback bind without a token.
            let open = try Program("sonic-seed", [mine.path, "--index", net.indexAddress.description, "--port", "0",
                                                  "--http", "0.0.0.0:0", "--no-cache"])
            let status = try await open.waitForExit(timeout: .seconds(20))
            #expect(status != 0)
            #expect(open.stderr.contains("token"), "\(open.stderr)")

            let web = try await WebPeer.start(net, folder: mine, extra: ["--http-token-file", tokenFile.path])
            let anonymous = try await web.http.get("/api/v1/status")
            #expect(anonymous.status == 401 && anonymous.errorCode == "unauthorized")
            #expect(try await web.http.get("/metrics").status == 401)
            let wrong = try await web.http.request("GET", "/api/v1/status", headers: ["Authorization": "Bearer nope"])
            #expect(wrong.status == 401)
            let bearer = try await web.http.request("GET", "/api/v1/status", headers: ["Authorization": "Bearer s3cret-token"])
            #expect(bearer.status == 200, "\(bearer)")
            // A bearer header is itself proof against cross-site requests (browsers cannot add it).
            let upload = try await web.http.request("POST", "/api/v1/files?name=b.txt",
                                                    headers: ["Authorization": "Bearer s3cret-token"], body: Data("b".utf8),
                                                    stateHeader: false)
            #expect(upload.status == 201, "\(upload)")

            // The page without a token is the login form; logging in sets the cookie.
            let page = try await web.http.get("/")
            #expect(page.status == 200 && page.text.contains("Access token"))
            let badLogin = try await web.http.json("POST", "/api/v1/login", ["token": "nope"])
            #expect(badLogin.status == 401 && badLogin.header("Set-Cookie") == nil)
            let login = try await web.http.json("POST", "/api/v1/login", ["token": "s3cret-token"])
            #expect(login.status == 204, "\(login)")
            let cookie = try #require(login.header("Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            let withCookie = try await web.http.request("GET", "/api/v1/status",
                                                        headers: ["Cookie": String(cookie.split(separator: ";")[0])])
            #expect(withCookie.status == 200)
            // The cookie alone does not make a cross-site POST acceptable.
            let forged = try await web.http.request("POST", "/api/v1/files?name=c.txt",
                                                    headers: ["Cookie": String(cookie.split(separator: ";")[0])],
                                                    body: Data("c".utf8), stateHeader: false)
            #expect(forged.status == 403 && forged.errorCode == "csrf")
        }
    }

    /// The value of a sample line `NAME VALUE` in Prometheus text.
    static func metric(_ text: String, _ name: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}

/// `sonic-index --http`: the read-only status and the Prometheus metrics.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct IndexWebTests {
    @Test func theIndexReportsPeersFilesAndSearchesOverHTTP() async throws {
        let folder = try Harness.sharedFolder("counted.bin", Harness.randomBytes(count: 1000, seed: 51))
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = try Program("sonic-index", ["--port", "0", "--http", "0"])
        do {
            let address = try await index.listeningAddress()
            let http = HTTPClient(address: try await WebPeer.httpAddress(of: index))
            let seeder = try Program("sonic-seed", [folder.path, "--index", address.description, "--port", "0",
                                                    "--state-dir", try Harness.temporaryDirectory("state").path])
            _ = try await seeder.listeningAddress()
            _ = try await TestNetwork.searchJSON(address.description, ["counted"])
            let status = try await http.waitFor("the seeder's file is counted", "/api/v1/status") {
                ($0["files"] as? Int) == 1
            }
            #expect(status["address"] as? String == address.description)
            #expect(status["peer_id"] as? String == (try await index.announcedPeerID()).description)
            #expect((status["peers_online"] as? Int ?? 0) >= 1)
            #expect((status["searches_total"] as? Int ?? 0) >= 1)
            let metrics = try await http.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains("sonic_index_files 1"), "\(metrics.text.prefix(600))")
            #expect(metrics.text.contains("sonic_index_searches_total"))
            // Read-only: nothing changes state here.
            #expect(try await http.request("POST", "/api/v1/status").status != 200)
            await seeder.stop()
        } catch {
            await index.stop()
            throw error
        }
        await index.stop()
    }
}
