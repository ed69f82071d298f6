import SonicCLI
import SonicCore
import SonicSwarm
import Synchronization

/// Draws the progress line of one download from the swarm's progress reports: the file's
/// name, bytes including the received part of pieces in flight, and the rate of this run over
/// the last few seconds (resumed pieces count toward the percentage, never toward the rate).
final class DownloadProgress: Sendable {
    private struct State {
        var rate = RecentRate()
        var announcedResume = false
    }

    private let name: String
    private let state = Mutex(State())

    init(name: String) {
        self.name = name
    }

    func report(_ p: SwarmDownload.Progress) {
        let fetched = p.verifiedBytes + p.receivingBytes - min(p.reusedBytes, p.verifiedBytes + p.receivingBytes)
        let (rate, announce) = state.withLock { s in
            let announce = !s.announcedResume && p.reusedPieces > 0
            s.announcedResume = true
            return (s.rate.add(bytes: fetched, at: p.elapsed), announce)
        }
        if announce {
            ProgressLine.clear()
            Console.err("sonic-get: resuming \(p.reusedPieces)/\(p.pieceCount) pieces already verified")
        }
        let status = ProgressLine.Status(name: name, done: min(p.totalBytes, p.verifiedBytes + p.receivingBytes),
                                         total: p.totalBytes, bytesPerSecond: rate, peers: p.activePeers)
        ProgressLine.draw(ProgressLine.render(status, width: ProgressLine.terminalWidth()))
    }
}
