import Synchronization

/// Caps how many connections a server holds in all and per remote IP, so one host (or a
/// flood of connections) cannot use up a server's sockets and memory.
public final class ConnectionLimiter: Sendable {
    public struct Limits: Sendable {
        public var total: Int
        public var perIP: Int

        public init(total: Int, perIP: Int) {
            self.total = total
            self.perIP = perIP
        }
    }

    public let limits: Limits
    private let state = Mutex<(total: Int, perIP: [String: Int])>((0, [:]))

    public init(_ limits: Limits) {
        self.limits = limits
    }

    /// Counts a new connection from `ip` if the limits allow it; returns why not otherwise.
    public func admit(_ ip: String) -> String? {
        state.withLock { s in
            guard s.total < limits.total else { return "the server is at its limit of \(limits.total) connections" }
            let fromIP = s.perIP[ip, default: 0]
            guard fromIP < limits.perIP else { return "too many connections from \(ip) (limit \(limits.perIP))" }
            s.total += 1
            s.perIP[ip] = fromIP + 1
            return nil
        }
    }

    public func release(_ ip: String) {
        state.withLock { s in
            s.total -= 1
            let left = s.perIP[ip, default: 1] - 1
            s.perIP[ip] = left > 0 ? left : nil
        }
    }

    public var count: Int { state.withLock { $0.total } }
}
