import SonicCore
import SonicNet

#if canImport(Glibc)
import Glibc
#endif

/// Output that tests and people read. Standard output carries results (and the
/// `listening on HOST:PORT` line, flushed at once so a parent process can read it);
/// standard error carries progress and errors. Every line is passed through
/// ``TerminalText/escaped(_:)``: names and error texts may come from other peers.
public enum Console {
    public static func out(_ line: String) {
        writeAll(STDOUT_FILENO, TerminalText.escaped(line) + "\n")
    }

    public static func err(_ line: String) {
        writeAll(STDERR_FILENO, TerminalText.escaped(line) + "\n")
    }

    /// Redraws the progress line in place: `\r`, the escaped `line`, clear to end of line.
    public static func redraw(_ line: String) {
        writeAll(STDERR_FILENO, "\r" + TerminalText.escaped(line) + "\u{1B}[K")
    }

    /// The first line of a server's standard output.
    public static func announceListening(_ address: Endpoint) {
        out("listening on \(address)")
    }

    /// `peer id ID`, after `listening on`: what other programs pin (nothing with TLS off).
    public static func announcePeerID(_ transport: TransportSecurity) {
        if let id = transport.localPeerID { out("peer id \(id)") }
    }

    public static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Columns for a table on standard output: the terminal's, or nil when the output is a
    /// pipe or a file (nothing is cut there).
    public static var stdoutColumns: Int? {
        isatty(STDOUT_FILENO) == 1 ? ProgressLine.terminalWidth(of: STDOUT_FILENO) : nil
    }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }
}
