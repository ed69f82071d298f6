import Synchronization

/// A value that is not there yet: callers of ``value()`` wait until ``open(_:)`` (or
/// ``fail(_:)``) is called once. The store's sessions wait on it for the process row that
/// owns them, which exists only once the database has answered.
final class ReadinessGate<Value: Sendable>: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Value, any Error>])
        case open(Value)
        case failed(any Error)
    }

    private let state = Mutex(State.waiting([]))

    func value() async throws -> Value {
        if case .open(let value) = state.withLock({ $0 }) { return value }
        return try await withCheckedThrowingContinuation { waiter in
            let outcome: Result<Value, any Error>? = state.withLock { state in
                switch state {
                case .waiting(let waiters):
                    state = .waiting(waiters + [waiter])
                    return nil
                case .open(let value): return .success(value)
                case .failed(let error): return .failure(error)
                }
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }

    /// The value now, or nil before ``open(_:)``.
    var current: Value? {
        if case .open(let value) = state.withLock({ $0 }) { return value }
        return nil
    }

    func open(_ value: Value) { settle(.success(value)) }

    func fail(_ error: any Error) { settle(.failure(error)) }

    private func settle(_ outcome: Result<Value, any Error>) {
        let waiters: [CheckedContinuation<Value, any Error>] = state.withLock { state in
            guard case .waiting(let waiters) = state else { return [] }
            switch outcome {
            case .success(let value): state = .open(value)
            case .failure(let error): state = .failed(error)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }
}
