import Foundation
import SonicCore
import Testing

@Suite struct PeerIDTests {
    let id = PeerID(SHA256Hash.of(Array("a public key".utf8)))

    @Test func theTextIsEightDashedGroupsOfSevenAndRoundTrips() throws {
        let text = id.description
        let groups = text.split(separator: "-")
        #expect(groups.count == 8 && groups.allSatisfy { $0.count == 7 })
        #expect(text.allSatisfy { $0 == "-" || ("A"..."Z").contains($0) || ("2"..."7").contains($0) })
        #expect(try PeerID(parsing: text) == id)
        #expect(id.short == String(groups[0]))
    }

    @Test func caseDashesAndSpacesDoNotMatter() throws {
        let plain = id.description.replacingOccurrences(of: "-", with: "")
        #expect(try PeerID(parsing: plain.lowercased()) == id)
        #expect(try PeerID(parsing: id.description.replacingOccurrences(of: "-", with: " ")) == id)
    }

    @Test func everySingleMistypedCharacterIsCaught() throws {
        let chars = Array(id.description)
        for position in chars.indices where chars[position] != "-" {
            for replacement in ["A", "Q", "7", "2"].map(Character.init) where replacement != chars[position] {
                var typo = chars
                typo[position] = replacement
                #expect(throws: PeerID.ParseError.self) { try PeerID(parsing: String(typo)) }
            }
        }
    }

    @Test func aTypoNamesItsPartAndOtherMistakesSayWhat() {
        var chars = Array(id.description)
        // The first character of the third part (checked groups of 14 characters).
        let position = 2 * 14 + (2 * 14) / 7
        chars[position] = chars[position] == "B" ? "C" : "B"
        #expect(throws: PeerID.ParseError.checksum(group: 3)) { try PeerID(parsing: String(chars)) }
        #expect(throws: PeerID.ParseError.length(3)) { try PeerID(parsing: "ABC") }
        #expect(throws: PeerID.ParseError.character("1")) {
            try PeerID(parsing: "1" + String(id.description.dropFirst()))
        }
    }

    @Test func mostSwappedNeighboursAreCaught() {
        let chars = Array(id.description.replacingOccurrences(of: "-", with: ""))
        var caught = 0, swaps = 0
        for i in 0..<(chars.count - 1) where chars[i] != chars[i + 1] {
            var swapped = chars
            swapped.swapAt(i, i + 1)
            swaps += 1
            if (try? PeerID(parsing: String(swapped))) == nil { caught += 1 }
        }
        #expect(swaps > 40 && caught * 10 >= swaps * 9)
    }
}
