import NIOCore
import SonicCore
import SonicNet
import Synchronization

/// Connections to a download's first holders, opened while its manifest is still being
/// fetched from one of them.
///
/// Each connection is a TCP connect and a TLS handshake: a few milliseconds that a small
/// download would otherwise spend after the manifest, before its first OBTAIN-RANGE. Opened
/// beside the manifest's own connection, they are ready when ``SwarmDownload/run`` starts
/// its fetchers, and each fetcher takes its peer's connection instead of opening one.
/// Whatever is not taken (the manifest failed, or the download never started) is closed by
/// ``close()``.
public final class EarlyConnections: Sendable {
    private let opening: Mutex<[Endpoint: Task<FrameChannel, any Error>]>

    /// Starts connecting to each of `endpoints` (once each) as ``SwarmDownload/run`` would
    /// with `settings`: same transport, same identity pins, same stall detection.
    public init(to endpoints: [Endpoint], settings: SwarmDownload.Settings) {
        var tasks: [Endpoint: Task<FrameChannel, any Error>] = [:]
        for endpoint in endpoints where tasks[endpoint] == nil {
            tasks[endpoint] = Task { try await PeerFetcher.connect(to: endpoint, settings: settings) }
        }
        opening = Mutex(tasks)
    }

    /// The connection being opened to `endpoint`, handed over once (nil: none was started,
    /// or it was taken already). Its failure is the connect's failure, reported as such.
    func take(_ endpoint: Endpoint) -> Task<FrameChannel, any Error>? {
        opening.withLock { $0.removeValue(forKey: endpoint) }
    }

    /// The endpoints whose connection nobody has taken yet.
    public var untaken: Set<Endpoint> {
        opening.withLock { Set($0.keys) }
    }

    /// Closes every connection not taken, once it has finished opening.
    public func close() async {
        let rest = opening.withLock { tasks -> [Task<FrameChannel, any Error>] in
            defer { tasks.removeAll() }
            return Array(tasks.values)
        }
        for task in rest {
            task.cancel()
            if let channel = try? await task.value {
                // Through the async wrapper, so its writer is finished before it goes away.
                try? await channel.executeThenClose { _, _ in }
            }
        }
    }
}
