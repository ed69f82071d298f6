import Logging
import NIOCore
import ServiceLifecycle
import SonicCore
import SonicNet
import SonicWire

/// Keeps one index told what this peer shares: connects, registers everything, sends only
/// the differences when the library changes, heartbeats in between, and reconnects (every
/// second) when the index goes away, registering everything again. Says EXIT on shutdown.
public struct IndexAnnouncer: Sendable {
    public var index: Endpoint
    public var library: SharedLibrary
    public var listenPort: Int
    public var heartbeatInterval: Duration
    /// Connects with an idle timeout well past the heartbeat: the index answers each heartbeat,
    /// so a shorter one would drop the session between them (and the index would forget us).
    public var connector: Connector
    public var agent: String
    public var logger: Logger
    public var secret: NetworkSecret?
    /// The peer id the index must present (pins, known-indexes file).
    public var trust: IndexTrust
    /// Downloads in progress whose verified pieces this peer serves: announced as partial
    /// holdings (PARTIAL) to an index that speaks the swarm feature.
    public var partials: PartialHoldings?
    /// How loudly an outage (and its end) is logged: a seeder warns, a downloader, whose own
    /// search already reported the index, says it at debug level.
    public var outageLogLevel: Logger.Level = .warning
    /// Delay before reconnecting to an index that went away or refused us.
    public var reconnectDelay: Duration = .seconds(1)
    /// How often the library is checked for changes (a local comparison, no traffic).
    public var pollInterval: Duration = .milliseconds(200)

    public init(index: Endpoint, library: SharedLibrary, listenPort: Int, heartbeatInterval: Duration,
                transport: TransportSecurity, trust: IndexTrust = IndexTrust(), agent: String, secret: NetworkSecret? = nil,
                partials: PartialHoldings? = nil, logger: Logger) {
        self.trust = trust
        self.secret = secret
        self.partials = partials
        self.index = index
        self.library = library
        self.listenPort = listenPort
        self.heartbeatInterval = heartbeatInterval
        self.connector = Connector(idleTimeout: TimeAmount(max(.seconds(30), heartbeatInterval * 3)), transport: transport)
        self.agent = agent
        var logger = logger
        logger[metadataKey: "index"] = "\(index)"
        self.logger = logger
    }

    /// Runs until graceful shutdown or cancellation. An outage (no answer, a dropped
    /// connection) is retried every ``reconnectDelay`` and logged once when it starts and once
    /// when it ends. A refusal (members-only without our secret, another protocol version,
    /// a peer's port instead of an index) would be refused again: it ends the run with
    /// ``IndexRefused``.
    public func run() async throws {
        var announcedOutage = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await session(onRegistered: {
                    if announcedOutage { logger.log(level: min(outageLogLevel, .notice), "index is back") }
                    announcedOutage = false
                })
                return
            } catch is CancellationError {
                return
            } catch let error as SessionError where error.isPermanent {
                throw IndexRefused(index: index, reason: error)
            } catch let changed as IndexIdentityChanged {
                throw changed
            } catch {
                if !announcedOutage {
                    logger.log(level: outageLogLevel, "index unavailable; retrying every \(reconnectDelay)",
                               metadata: ["error": "\(error)"])
                    announcedOutage = true
                }
            }
            try? await Task.sleep(for: reconnectDelay)
        }
    }

    /// One connection's life. `onRegistered` runs once the index took the first registration:
    /// a handshake alone does not prove it is an index that will keep us.
    private func session(onRegistered: () -> Void) async throws {
        let (channel, identities) = try await connector.connect(toIndex: index, trust: trust)
        try await channel.executeThenClose { inbound, outbound in
            var session = FrameSession(inbound: inbound, outbound: outbound)
            let welcome = try await session.clientHandshake(
                Hello(role: .seeder, listenPort: UInt16(listenPort), features: partials == nil ? [] : [.swarm], agent: agent),
                secret: secret, identities: identities)
            logger.debug("handshake with index", metadata: ["session": "\(welcome.sessionID)"])
            // An index without the swarm feature is not told about partial holdings.
            let partials = welcome.features.contains(.swarm) ? self.partials : nil
            var confirmed = false
            var registered: [String: SharedFile] = [:]
            var generation = -1
            var partialGeneration = 0
            var lastSent = ContinuousClock.now
            while true {
                if Task.isShuttingDownGracefully || Task.isCancelled {
                    try? await session.send(.exit)
                    return
                }
                let current = library.snapshot()
                if current.generation != generation {
                    registered = try await sendDifferences(&session, from: registered, to: current.files)
                    generation = current.generation
                    lastSent = .now
                    if !confirmed {
                        confirmed = true
                        onRegistered()
                        logger.info("connected to index", metadata: ["session": "\(welcome.sessionID)"])
                    }
                }
                if let held = partials?.snapshot(), held.generation != partialGeneration {
                    try await session.requestOK(.partial(Array(held.contents.prefix(WireLimits.maximumPartialContents))))
                    logger.debug("partial holdings announced", metadata: ["contents": "\(held.contents.count)"])
                    partialGeneration = held.generation
                    lastSent = .now
                } else if ContinuousClock.now - lastSent >= heartbeatInterval {
                    try await session.requestOK(.heartbeat)
                    lastSent = .now
                }
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    /// Brings the index from `old` to `new` with UNREGISTER and REGISTER frames within the
    /// per-frame limits; returns what the index now holds.
    private func sendDifferences(_ session: inout FrameSession, from old: [String: SharedFile],
                                 to new: [SharedFile]) async throws -> [String: SharedFile] {
        let newByName = Dictionary(new.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let removed = old.keys.filter { newByName[$0] == nil }.sorted()
        let added = new.filter { old[$0.name] != $0 }
        for batch in Self.batches(removed, size: WireSize.string) {
            try await session.requestOK(.unregister(batch))
        }
        for batch in Self.batches(added, size: { WireSize.registeredFile(nameBytes: $0.name.utf8.count) }) {
            try await session.requestOK(.register(batch))
        }
        if !removed.isEmpty || !added.isEmpty {
            logger.info("registration updated", metadata: [
                "added": "\(added.count)", "removed": "\(removed.count)", "total": "\(new.count)",
            ])
        }
        return newByName
    }

    /// Splits `items` into frames that respect both the per-frame count and byte limits.
    static func batches<T>(_ items: [T], size: (T) -> Int) -> [[T]] {
        let byteBudget = WireLimits.maximumPayload(for: .register) - WireSize.listCount
        var out: [[T]] = []
        var current: [T] = []
        var bytes = 0
        for item in items {
            let s = size(item)
            if !current.isEmpty && (current.count == WireLimits.maximumFilesPerFrame || bytes + s > byteBudget) {
                out.append(current)
                current = []
                bytes = 0
            }
            current.append(item)
            bytes += s
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
