import SonicCore
@testable import SonicIndex
import SonicWire
import Testing

/// The search loop that owns the index in a running server.
@Suite struct SearchLoopTests {
    static func files(of session: UInt64, _ range: Range<Int>) -> [SharedFile] {
        range.map { n in
            let hash = SHA256Hash.of(Array("\(session)/\(n)".utf8))
            return SharedFile(name: "peer \(session)/Résumé \(n % 7) take \(n).ogg", size: UInt64(n),
                              contentID: ContentID(hash), fileHash: hash)
        }
    }

    /// After a mass departure the loop rebuilds its index beside the searches, and keeps the
    /// changes that arrive meanwhile: every answer, before, during and after, is the one an
    /// index that never rebuilt gives.
    @Test func aMassDepartureIsRebuiltWithoutLosingLaterChanges() async throws {
        let loop = SearchLoop(limits: IndexLimits(), deadNamesBeforeRebuild: 16)
        var table = SessionTable()
        var reference = IndexRegistry()
        async let serving: Void = loop.run()

        func check(_ moment: String) async {
            for query in ["resume", "take 1", "peer 3", "RÉSUMÉ 5", ""] {
                let request = SearchRequest(mode: .keyword, query: query, limit: 1000)
                let got = await loop.search(request, excluding: 0)
                #expect(got == reference.search(request, excluding: 0), "\(moment): \"\(query)\"")
            }
        }

        for session in UInt64(1)...40 {
            let address = Endpoint(host: "127.0.0.1", port: 7000 + Int(session))
            loop.submit(table.connect(session, address: address))
            reference.connect(session, address: address)
            loop.submit(try table.register(session, files: Self.files(of: session, 0..<20)))
            try reference.register(session, files: Self.files(of: session, 0..<20))
        }
        await check("registered")
        for session in UInt64(1)...30 {
            loop.submit(table.disconnect(session))
            reference.disconnect(session)
        }
        // More changes while the rebuild may still be running.
        for session in UInt64(31)...40 {
            loop.submit(try table.register(session, files: Self.files(of: session, 20..<25)))
            try reference.register(session, files: Self.files(of: session, 20..<25))
            let gone = Self.files(of: session, 0..<3).map(\.name)
            loop.submit(table.unregister(session, names: gone))
            reference.unregister(session, names: gone)
        }
        await check("departed")
        let deadline = ContinuousClock.now + .seconds(30)
        while loop.rebuilds == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(loop.rebuilds >= 1, "the departure never led to a rebuild")
        await check("rebuilt")
        loop.finish()
        await serving
    }
}
