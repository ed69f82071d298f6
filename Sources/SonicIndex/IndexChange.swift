import SonicCore
import SonicWire

/// One change to what the index knows, as ``SessionTable`` decides it and ``SearchIndex``
/// applies it. The server hands them from the one to the other in order: a slot freed by one
/// session and reused by another is removed before it is added again.
public enum IndexChange: Sendable, Equatable {
    /// A session said HELLO; peers reach it at `address` (nil: it serves nothing).
    case connect(session: UInt64, address: Endpoint?)
    /// The session shares `file`, stored in `slot` (a number ``SessionTable`` owns).
    case add(slot: UInt32, session: UInt64, file: SharedFile)
    /// The file in `slot` is no longer shared.
    case remove(slot: UInt32)
    /// The session is gone (its files were removed by the changes before this one).
    case disconnect(session: UInt64)
}
