import Foundation
import NIOCore
import NIOPosix
import SonicCore
import SonicNet
import SonicWire
import Synchronization

/// Forwards TCP bytes between `listen` and `target` unchanged, keeping a copy of every byte
/// that passes either way: what someone capturing the loopback traffic would see.
final class ForwardingProxy: Sendable {
    let address: Endpoint
    private let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, any Error>
    private let captured = Capture()

    final class Capture: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    init(listen: Endpoint, target: Endpoint) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: listen.host, port: listen.port) { child in
                child.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
        address = listen
        let channel = self.channel
        let record: @Sendable (ByteBuffer) -> Void = { [captured] buffer in
            captured.bytes.withLock { $0 += buffer.readableBytesView }
        }
        task = Task {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await client in inbound {
                        group.addTask {
                            guard let server = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                                .connect(host: target.host, port: target.port, channelInitializer: { c in
                                    c.eventLoop.makeCompletedFuture {
                                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: c)
                                    }
                                }) else {
                                try? await client.executeThenClose { _, _ in }
                                return
                            }
                            try? await Self.splice(client, server, record: record)
                        }
                    }
                }
            }
        }
    }

    /// Every byte that passed so far, both directions.
    var bytes: [UInt8] { captured.bytes.withLock { $0 } }

    func stop() async {
        task.cancel()
        try? await channel.channel.close()
    }

    /// Copies each side's bytes to the other until either side closes.
    static func splice<T: Sendable>(_ a: NIOAsyncChannel<T, T>, _ b: NIOAsyncChannel<T, T>,
                                    record: @escaping @Sendable (T) -> Void = { _ in }) async throws {
        try await a.executeThenClose { aIn, aOut in
            try await b.executeThenClose { bIn, bOut in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { for try await x in aIn { record(x); try await bOut.write(x) } }
                    group.addTask { for try await x in bIn { record(x); try await aOut.write(x) } }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}

/// A man in the middle: accepts TLS with its own certificate, opens TLS to `target` with the
/// same certificate, and passes every frame along both ways unchanged.
final class RelayingProxy: Sendable {
    let address: Endpoint
    let identity: PeerIdentity
    private let listener: ServerListener
    private let task: Task<Void, any Error>

    init(listen: Endpoint, target: Endpoint) async throws {
        identity = try PeerIdentity.generate()
        let transport = try TransportSecurity.tls(identity)
        listener = try await ServerListener.bind(.init(host: listen.host, port: listen.port, idleTimeout: .seconds(30),
                                                       connections: .init(total: 64, perIP: 64), transport: transport))
        address = listener.boundAddress
        let listener = self.listener
        task = Task {
            try await listener.serve { client in
                guard let server = try? await Connector(connectTimeout: .seconds(5), idleTimeout: nil, transport: transport)
                    .connect(to: target) else {
                    try? await client.executeThenClose { _, _ in }
                    return
                }
                try? await ForwardingProxy.splice(client, server)
            }
        }
    }

    func stop() async {
        task.cancel()
        try? await listener.channel.channel.close()
    }
}
