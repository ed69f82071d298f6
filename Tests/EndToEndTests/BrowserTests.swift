import Foundation
import SonicCore
import SonicTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The page in headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
/// `.ci/run`), driven over WebDriver: on an index plus two seeders, search blank, download a
/// multi-piece file, watch the bar reach 100 %, see the file shared, check its SHA-256 on
/// disk. A screenshot is kept on failure (its path is in the failure message); with
/// `SONIC_SCREENSHOTS=FOLDER` the page is also captured for the docs.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BrowserTests {
    @Test func searchDownloadAndShareInTheBrowser() async throws {
        let bytes = Harness.randomBytes(count: 6 << 20 + 777, seed: 61)
        let sources = try SwarmTests.sharedFolders(2, name: "holiday video.bin", bytes: bytes)
        try Data("a small text\n".utf8).write(to: sources[0].appendingPathComponent("readme.txt"))
        let mine = try Harness.sharedFolder("my notes.txt", Array("notes\n".utf8), tag: "browser")
        let profile = try Harness.temporaryDirectory("chromium")
        let net = try await TestNetwork()
        defer { ([profile, mine] + sources).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            for s in sources { try await net.addSeeder(folder: s, extra: ["--max-upload-rate", "3MiB"]) }
            let web = try await WebPeer.start(net, folder: mine)
            try await SwarmTests.waitForPeers(net, name: "holiday video.bin", count: 2)

            let browser = try await WebDriver.start(profile: profile)
            defer { browser.stop() }
            do {
                try await browser.open("http://\(web.http.address)/")
                try await browser.waitFor("the index shows as connected") {
                    try await browser.elements("#indexes [data-reachable='true']").count == 1
                }
                try await browser.click("#search-button")
                try await browser.waitFor("every file is listed") {
                    try await browser.elements("#results tr[data-name]").count == 3
                }
                let peers = try await browser.text("#results tr[data-name='holiday video.bin'] .peers")
                #expect(peers == "2")
                try await browser.click("#results tr[data-name='holiday video.bin'] button.download")
                try await browser.waitFor("a progress bar appears") {
                    try await !browser.elements("#downloads tr[data-download-id] .pct").isEmpty
                }
                try await browser.screenshotForDocs("web-app-downloading.png")
                try await browser.waitFor("the bar reaches 100 %", timeout: .seconds(60)) {
                    try await browser.text("#downloads tr[data-download-id] .pct") == "100 %"
                }
                try await browser.waitFor("the file is in the shared list") {
                    try await !browser.elements("#files tr[data-name='holiday video.bin']").isEmpty
                }
                try await browser.screenshotForDocs("web-app.png")
                #expect(try Harness.sha256(ofFile: mine.appendingPathComponent("holiday video.bin")) == SHA256Hash.of(bytes).hex)
            } catch {
                let shot = try? await browser.screenshot(named: "browser-failure-\(UUID().uuidString.prefix(6)).png")
                Issue.record("browser test failed: \(error); screenshot: \(shot?.path ?? "none")")
            }
        }
    }
}

/// A headless Chromium driven by `chromedriver` over the W3C WebDriver protocol (JSON over
/// HTTP on loopback), with the same small HTTP client the API tests use.
final class WebDriver: @unchecked Sendable {
    let driver: Program
    let http: HTTPClient
    let session: String

    static func start(profile: URL) async throws -> WebDriver {
        guard let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw HarnessError("chromedriver is missing: apt-get install chromium chromium-driver (.ci/run does)") }
        let port = try freeLoopbackPort()
        let driver = try Program(chromedriver, ["--port=\(port)"], absolute: true)
        let http = HTTPClient(address: Endpoint(host: "127.0.0.1", port: port))
        try await Harness.waitUntil("chromedriver answers") {
            guard driver.process.isRunning else { throw HarnessError("chromedriver exited: \(driver.stderr)") }
            return (try? await http.get("/status"))?.status == 200
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": [
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--no-first-run", "--user-data-dir=\(profile.path)"],
            ] as [String: Any],
        ] as [String: Any]]]
        let reply = try await http.json("POST", "/session", capabilities)
        guard let value = reply.json["value"] as? [String: Any], let session = value["sessionId"] as? String else {
            await driver.stop()
            throw HarnessError("no WebDriver session: \(reply)")
        }
        return WebDriver(driver: driver, http: http, session: session)
    }

    private init(driver: Program, http: HTTPClient, session: String) {
        self.driver = driver
        self.http = http
        self.session = session
    }

    func stop() {
        let http = self.http, session = self.session
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            _ = try? await http.request("DELETE", "/session/\(session)", timeout: 10)
            done.signal()
        }
        _ = done.wait(timeout: .now() + 15)
        driver.stopNow()
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let reply = method == "GET" ? try await http.get("/session/\(session)\(path)")
            : try await http.json(method, "/session/\(session)\(path)", body ?? [:])
        guard reply.status == 200 else { throw HarnessError("WebDriver \(method) \(path): \(reply)") }
        return reply.json["value"]
    }

    func open(_ url: String) async throws { _ = try await command("POST", "/url", ["url": url]) }

    func elements(_ css: String) async throws -> [String] {
        let found = try await command("POST", "/elements", ["using": "css selector", "value": css]) as? [[String: Any]] ?? []
        return found.compactMap { $0.values.first as? String }
    }

    func element(_ css: String) async throws -> String {
        guard let e = try await elements(css).first else { throw HarnessError("no element \(css)") }
        return e
    }

    /// Clicks the element; the page re-renders rows on every event, so an element found a
    /// moment ago may be gone: found again until the click lands (bounded).
    func click(_ css: String) async throws {
        try await waitFor("\(css) can be clicked") {
            guard let e = try await elements(css).first else { return false }
            return try await staleIsNil { try await command("POST", "/element/\(e)/click") } != nil
        }
    }

    /// The element's text; nil when it is missing or was replaced while being read.
    func text(_ css: String) async throws -> String? {
        guard let e = try await elements(css).first else { return nil }
        return try await staleIsNil { try await command("GET", "/element/\(e)/text") } as? String
    }

    private func staleIsNil(_ body: () async throws -> Any?) async throws -> Any? {
        do {
            return try await body() ?? NSNull()
        } catch let error as HarnessError where error.description.contains("stale element") {
            return nil
        }
    }

    func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        try await Harness.waitUntil(what, timeout: timeout) {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
            return false
        }
    }

    /// Saves a PNG of the page under the build folder and returns where.
    func screenshot(named name: String) async throws -> URL {
        let folder = Harness.binDirectory.appendingPathComponent("browser-screenshots")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try await screenshot(to: folder.appendingPathComponent(name))
    }

    func screenshot(to url: URL) async throws -> URL {
        guard let base64 = try await command("GET", "/screenshot") as? String, let png = Data(base64Encoded: base64) else {
            throw HarnessError("no screenshot")
        }
        try png.write(to: url)
        return url
    }

    /// With `SONIC_SCREENSHOTS=FOLDER`, keeps the page as it is now for the docs.
    func screenshotForDocs(_ name: String) async throws {
        guard let folder = ProcessInfo.processInfo.environment["SONIC_SCREENSHOTS"] else { return }
        _ = try await screenshot(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
    }
}
