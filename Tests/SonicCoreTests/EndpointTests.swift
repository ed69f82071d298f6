import Testing
import SonicCore

@Suite("Endpoint parsing")
struct EndpointTests {
    @Test(arguments: [
        ("127.0.0.1:5015", "127.0.0.1", 5015),
        ("[::1]:80", "::1", 80),
        ("localhost:5015", "localhost", 5015),
        ("example.org:0", "example.org", 0),
        ("host:65535", "host", 65535),
        ("[fe80::1%eth0]:7", "fe80::1%eth0", 7),
        ("  10.0.0.2:9  ", "10.0.0.2", 9),
    ] as [(String, String, Int)])
    func parses(text: String, host: String, port: Int) {
        #expect(Endpoint(parsing: text) == Endpoint(host: host, port: port))
    }

    @Test func bareHostTakesTheDefaultPort() {
        #expect(Endpoint(parsing: "localhost", defaultPort: 5015) == Endpoint(host: "localhost", port: 5015))
        #expect(Endpoint(parsing: "[::1]", defaultPort: 5015) == Endpoint(host: "::1", port: 5015))
        #expect(Endpoint(parsing: "::1", defaultPort: 5015) == Endpoint(host: "::1", port: 5015))
        // An explicit port wins over the default.
        #expect(Endpoint(parsing: "localhost:1", defaultPort: 5015) == Endpoint(host: "localhost", port: 1))
    }

    @Test func bareHostWithoutDefaultPortIsRejected() {
        #expect(Endpoint(parsing: "localhost") == nil)
        #expect(Endpoint(parsing: "[::1]") == nil)
    }

    @Test(arguments: [":80", "host:99999", "host:x", "host:", "host:-1", "", "[::1", "[::1]80", "[]:80",
                      "[::1]:", "host:65536"])
    func rejects(text: String) {
        #expect(Endpoint(parsing: text) == nil)
        #expect(Endpoint(parsing: text, defaultPort: 5015) == nil)
    }

    @Test func list() {
        #expect(Endpoint.parseList("a:1,b:2") == [Endpoint(host: "a", port: 1), Endpoint(host: "b", port: 2)])
        #expect(Endpoint.parseList(" a:1 , [::1]:2 ,") == [Endpoint(host: "a", port: 1), Endpoint(host: "::1", port: 2)])
        #expect(Endpoint.parseList("a,b:7", defaultPort: 5015) == [Endpoint(host: "a", port: 5015), Endpoint(host: "b", port: 7)])
        #expect(Endpoint.parseList("127.0.0.1:5015") == [Endpoint(host: "127.0.0.1", port: 5015)])
    }

    @Test(arguments: ["", ",", " , ", "a:1,:2", "a:1,b", "a:1,b:99999"])
    func listRejects(text: String) {
        #expect(Endpoint.parseList(text) == nil)
    }

    @Test func descriptionBracketsIPv6AndRoundTrips() {
        let endpoints = [Endpoint(host: "::1", port: 80), Endpoint(host: "127.0.0.1", port: 5015),
                         Endpoint(host: "localhost", port: 1)]
        #expect(endpoints.map(\.description) == ["[::1]:80", "127.0.0.1:5015", "localhost:1"])
        for e in endpoints {
            #expect(Endpoint(parsing: e.description) == e)
        }
    }
}
