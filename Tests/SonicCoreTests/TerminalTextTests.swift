import SonicCore
import Testing

@Suite("TerminalText")
struct TerminalTextTests {
    @Test func escapesC0DelAndC1AndKeepsEverythingElse() {
        #expect(TerminalText.escaped("a\u{1B}]0;x\u{07}b") == #"a\u{1B}]0;x\u{7}b"#)
        #expect(TerminalText.escaped("line\nforged") == #"line\u{A}forged"#)
        #expect(TerminalText.escaped("del\u{7F} csi\u{9B}") == #"del\u{7F} csi\u{9B}"#)
        #expect(TerminalText.escaped("日本語 🎵 é ü\u{301} \u{A0}x") == "日本語 🎵 é ü\u{301} \u{A0}x")
        #expect(TerminalText.escaped("") == "")
    }

    @Test func theControlSetIsExactlyC0DelC1() {
        let controls = (0...0x10FF).compactMap(Unicode.Scalar.init).filter(TerminalText.isControl).map(\.value)
        #expect(controls == Array(0...0x1F) + Array(0x7F...0x9F))
    }
}
