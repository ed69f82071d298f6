import Foundation
import SonicCore
import SonicTestSupport
import Testing

/// Two `sonic-index --store postgres://…` processes on one private PostgreSQL database:
/// what is registered on either is found, downloaded and forgotten through both.
// Needs Debian's postgresql (initdb, pg_ctl); .ci/run installs it, so CI always runs these.
@Suite(.serialized, .enabled(if: PostgresCluster.isInstalled, "PostgreSQL is not installed (apt-get install postgresql)"),
       .timeLimit(.minutes(3)))
struct SharedIndexTests {
    /// Short enough that a killed index expires quickly (about 8 s: stale after 6 s, swept
    /// every 2 s), long enough that a loaded machine never delays a live index's heartbeat
    /// into an expiry.
    static let heartbeatTimeout = "10s"

    /// A PostgreSQL server and two index processes on its database, and the seeders added.
    final class SharedIndexes: @unchecked Sendable {
        let cluster: PostgresCluster
        let indexes: [Program]
        let addresses: [Endpoint]
        private(set) var seeders: [Program] = []
        let stateDirectory: URL

        init() async throws {
            cluster = try await PostgresCluster.start()
            do {
                stateDirectory = try Harness.temporaryDirectory("state")
                var indexes: [Program] = []
                for _ in 0..<2 {
                    indexes.append(try Program("sonic-index", ["--port", "0", "--store", cluster.url(),
                                                               "--heartbeat-timeout", SharedIndexTests.heartbeatTimeout]))
                }
                self.indexes = indexes
                var addresses: [Endpoint] = []
                for index in indexes { addresses.append(try await index.listeningAddress()) }
                self.addresses = addresses
            } catch {
                await cluster.stop()
                throw error
            }
        }

        /// A seeder of `folder` registered with index `i` only.
        @discardableResult
        func addSeeder(folder: URL, index i: Int) async throws -> Program {
            let seeder = try Program("sonic-seed", [folder.path, "--index", addresses[i].description, "--port", "0",
                                                    "--state-dir", stateDirectory.path, "--rescan", "1s", "--heartbeat", "500ms"])
            seeders.append(seeder)
            _ = try await seeder.listeningAddress()
            return seeder
        }

        /// `sonic-search --json QUERY` through index `i`, repeated (bounded) until `predicate` holds.
        func waitForSearch(_ query: String, on i: Int, _ what: String,
                           until predicate: @escaping ([[String: Any]]) -> Bool) async throws {
            try await Harness.waitUntil(what, timeout: .seconds(30)) {
                predicate(try await TestNetwork.searchJSON(self.addresses[i].description, [query]))
            }
        }

        func run(_ body: () async throws -> Void) async throws {
            do {
                try await body()
            } catch {
                await stopAll()
                throw error
            }
            await stopAll()
        }

        private func stopAll() async {
            for seeder in seeders { await seeder.stop() }
            for index in indexes { await index.stop() }
            await cluster.stop()
            try? FileManager.default.removeItem(at: stateDirectory)
        }
    }

    static func names(_ results: [[String: Any]]) -> Set<String> {
        Set(results.compactMap { $0["name"] as? String })
    }

    @Test func aSeederOnOneIndexIsFoundThroughTheOtherAndForgottenByBothWhenKilled() async throws {
        let net = try await SharedIndexes()
        let folder = try Harness.sharedFolder("Ünïcødé résumé.txt", Harness.randomBytes(count: 5000, seed: 1))
        defer { try? FileManager.default.removeItem(at: folder) }
        try await net.run {
            let seeder = try await net.addSeeder(folder: folder, index: 0)
            let seederID = try await seeder.announcedPeerID().description
            // Keyword search through the other index, folded as the memory store folds; the
            // seeder's peer id, proved to index 0, is listed by index 1 too.
            try await net.waitForSearch("resume", on: 1, "index 1 finds the file registered on index 0") {
                Self.names($0) == ["Ünïcødé résumé.txt"]
            }
            let listed = try await TestNetwork.searchJSON(net.addresses[1].description, ["resume"])
            #expect(listed.first?["peer_ids"] as? [String] == [seederID], "\(listed)")
            seeder.signal(SIGKILL)
            for i in 0..<2 {
                try await net.waitForSearch("resume", on: i, "index \(i) forgets the killed seeder") { $0.isEmpty }
            }
        }
    }

    @Test func aClientOnOneIndexDownloadsFromASeederOnTheOther() async throws {
        let net = try await SharedIndexes()
        let bytes = Harness.randomBytes(count: 1_500_000, seed: 2)
        let folder = try Harness.sharedFolder("shared across indexes.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: out)
        }
        try await net.run {
            try await net.addSeeder(folder: folder, index: 0)
            try await net.waitForSearch("across", on: 1, "index 1 lists the file") { !$0.isEmpty }
            let get = try Program("sonic-get", ["shared across indexes.bin", "--json", "--index", net.addresses[1].description],
                                  directory: out)
            let status = try await get.waitForExit(timeout: .seconds(90))
            #expect(status == 0, "stderr: \(get.stderr)")
            #expect(try Data(contentsOf: out.appendingPathComponent("shared across indexes.bin")) == Data(bytes))
        }
    }

    @Test func killingAnIndexProcessExpiresItsSessionsOnTheOther() async throws {
        let net = try await SharedIndexes()
        let first = try Harness.sharedFolder("on the doomed index.txt", Harness.randomBytes(count: 100, seed: 3))
        let second = try Harness.sharedFolder("on the surviving index.txt", Harness.randomBytes(count: 100, seed: 4))
        defer {
            try? FileManager.default.removeItem(at: first)
            try? FileManager.default.removeItem(at: second)
        }
        try await net.run {
            try await net.addSeeder(folder: first, index: 0)
            try await net.addSeeder(folder: second, index: 1)
            try await net.waitForSearch("index", on: 1, "index 1 lists both seeders' files") {
                Self.names($0) == ["on the doomed index.txt", "on the surviving index.txt"]
            }
            // A crash: no graceful shutdown, nothing removed by the process itself.
            net.indexes[0].signal(SIGKILL)
            try await net.waitForSearch("index", on: 1, "index 1 expires the killed index's sessions") {
                Self.names($0) == ["on the surviving index.txt"]
            }
        }
    }
}
