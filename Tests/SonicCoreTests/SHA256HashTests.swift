import Testing
import SonicCore

@Suite("SHA256Hash")
struct SHA256HashTests {
    // FIPS 180-2 test vectors.
    @Test(arguments: [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, hex: String) {
        let hash = SHA256Hash.of(Array(input.utf8))
        #expect(hash.hex == hex)
        #expect(hash.description == hex)
        #expect(hash.bytes.count == 32)
        Array(input.utf8).withUnsafeBytes { #expect(SHA256Hash.of($0) == hash) }
    }

    @Test func hexRoundTrip() throws {
        let hash = SHA256Hash.of(Array("abc".utf8))
        let parsed = try #require(SHA256Hash(hex: hash.hex))
        #expect(parsed == hash)
        #expect(parsed.bytes == hexBytes(hash.hex))
    }

    @Test func hexIsLowercaseAndParsingAcceptsEitherCase() throws {
        let upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        let hash = try #require(SHA256Hash(hex: upper))
        #expect(hash.hex == upper.lowercased())
        #expect(SHA256Hash(hex: "Ba7816bF8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aD") == hash)
    }

    @Test func everyByteValueRoundTrips() throws {
        for start in stride(from: 0, to: 256, by: 32) {
            let bytes = (start..<start + 32).map { UInt8($0) }
            let hash = try #require(SHA256Hash(bytes: bytes))
            #expect(SHA256Hash(hex: hash.hex)?.bytes == bytes)
        }
    }

    @Test(arguments: [
        "",
        "abc",
        String(repeating: "0", count: 63),
        String(repeating: "0", count: 65),
        String(repeating: "g", count: 64),
        String(repeating: "0", count: 62) + " 0",
        String(repeating: "0", count: 62) + "0x",
        String(repeating: "é", count: 32),  // 64 bytes of UTF-8, not hex digits
    ])
    func rejectsBadHex(text: String) {
        #expect(SHA256Hash(hex: text) == nil)
    }

    @Test func bytesMustBeThirtyTwo() {
        #expect(SHA256Hash(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        #expect(SHA256Hash(bytes: [UInt8](repeating: 0, count: 33)) == nil)
        #expect(SHA256Hash(bytes: [UInt8]()) == nil)
        #expect(SHA256Hash(bytes: [UInt8](repeating: 7, count: 32))?.bytes == [UInt8](repeating: 7, count: 32))
    }

    @Test func hexPrefixIsCaseInsensitive() {
        let hash = SHA256Hash.of(Array("abc".utf8))
        #expect(hash.hasHexPrefix("ba78"))
        #expect(hash.hasHexPrefix("BA78"))
        #expect(hash.hasHexPrefix(""))
        #expect(!hash.hasHexPrefix("ba79"))
    }

    @Test func orderIsByBytes() {
        let low = SHA256Hash.repeating(0x00)
        let high = SHA256Hash.repeating(0xFF)
        var mid = [UInt8](repeating: 0, count: 32)
        mid[31] = 1
        #expect(low < SHA256Hash(bytes: mid)!)
        #expect(SHA256Hash(bytes: mid)! < high)
        #expect(ContentID(low) < ContentID(high))
    }
}
