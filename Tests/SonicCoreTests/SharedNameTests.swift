import Testing
import SonicCore

@Suite("SharedName.isSafe")
struct SharedNameTests {
    @Test(arguments: [
        "a b/c:d.txt",
        "ünïcødé.txt",
        "file.txt",
        "dir/sub/file",
        "..hidden",
        "a..b",
        "...",
        ".config/x",
        "x/.y",
        "日本語/音楽 🎵.flac",
        "back\\slash",  // only "/" separates components on the wire
    ])
    func accepts(name: String) {
        #expect(SharedName.isSafe(name))
    }

    @Test(arguments: [
        "../x",
        "a/../b",
        "a/..",
        "..",
        ".",
        "/etc/passwd",
        "/",
        "a//b",
        "./a",
        "a/./b",
        "a/",
        "",
        "a\0b",
        "\0",
        // Control characters a terminal acts on (C0, DEL, C1): hostile testing, defect 7.
        "evil\u{1B}]0;pwned\u{07}.txt",
        "clear\u{1B}[2J",
        "row\nforged  1 B  abcd  9",
        "tab\there",
        "del\u{7F}",
        "csi\u{9B}31m",
        "nel\u{85}",
    ])
    func rejects(name: String) {
        #expect(!SharedName.isSafe(name))
    }

    /// Regression: the check split names into Characters, so a "/" followed by a combining
    /// mark (one grapheme cluster) was not seen as a separator, while the file system, which
    /// splits bytes, sees it. "../\u{301}x" passed as one harmless component and reached
    /// outside the shared folder; "/\u{301}etc" passed as a relative name.
    @Test(arguments: [
        "../\u{301}x",
        "/\u{301}etc/passwd",
        "a/../\u{301}../b",
        "x\u{600}/../\u{301}y",  // a prepended mark binds to the following "/"
        "\u{600}/..",
        "a//\u{301}b",           // an empty component hidden the same way
    ])
    func rejectsSeparatorsHiddenInGraphemeClusters(name: String) {
        #expect(!SharedName.isSafe(name))
    }

    @Test func combiningMarksInsideComponentsAreFine() {
        #expect(SharedName.isSafe("e\u{301}/x"))
        #expect(SharedName.isSafe("a/\u{301}/b"))  // components "a", U+0301, "b"
        #expect(SharedName.isSafe("..\u{301}/x"))  // the component is not "..": it has three scalars
    }

    /// The one-pass byte check against the rules spelled out plainly (split on "/" bytes,
    /// look at each component, look for control scalars), on random names built from the
    /// pieces that matter.
    @Test func theByteCheckAgreesWithThePlainRules() {
        func plain(_ name: String) -> Bool {
            guard !name.isEmpty, name.utf8.count <= SharedName.maximumLength,
                  !name.unicodeScalars.contains(where: TerminalText.isControl) else { return false }
            let components = name.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            return components.allSatisfy { c in !c.isEmpty && !c.elementsEqual(".".utf8) && !c.elementsEqual("..".utf8) }
        }
        let pieces = ["a", "/", ".", "..", "é", "\u{301}", "\u{85}", "\u{9F}", "\u{A0}", "\u{7F}", "\u{1B}", "\u{100}", "日", "🎵", " "]
        var g = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<20_000 {
            let name = (0..<Int.random(in: 1...6, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
            #expect(SharedName.isSafe(name) == plain(name), "\(name.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    @Test func lengthLimitCountsUTF8Bytes() {
        #expect(SharedName.isSafe(String(repeating: "a", count: SharedName.maximumLength)))
        #expect(!SharedName.isSafe(String(repeating: "a", count: SharedName.maximumLength + 1)))
        // "é" is two bytes: 2049 of them exceed 4096 bytes though they are 2049 characters.
        #expect(!SharedName.isSafe(String(repeating: "é", count: 2049)))
        #expect(SharedName.isSafe(String(repeating: "é", count: 2048)))
    }

    @Test func baseName() {
        #expect(SharedName.baseName("a/b/c.txt") == "c.txt")
        #expect(SharedName.baseName("c.txt") == "c.txt")
        #expect(SharedName.baseName("dir/x: y.txt") == "x: y.txt")
        // Regression: split by Character, "a/\u{301}b" had no separator and came back whole.
        #expect(SharedName.baseName("a/\u{301}b") == "\u{301}b")
    }
}

/// A fixed sequence of pseudo-random numbers, so that a failure can be replayed.
private struct XorShift: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
