import NIOCore
import SonicCore

/// Field encodings shared by every message (docs/PROTOCOL.md, "Field types"):
/// big-endian integers, strings as `u16 length + UTF-8`, hashes as 32 raw bytes.
extension ByteBuffer {
    @discardableResult
    mutating func writeWireString(_ string: String) -> Int {
        let utf8 = string.utf8
        precondition(utf8.count <= WireLimits.maximumStringLength, "string longer than the protocol allows")
        return writeInteger(UInt16(utf8.count)) + writeBytes(utf8)
    }

    mutating func readWireString() throws(WireError) -> String {
        let length = Int(try readWireInteger(as: UInt16.self))
        guard length <= WireLimits.maximumStringLength else { throw .malformed("string of \(length) bytes") }
        guard let bytes = readBytes(length: length) else { throw .malformed("truncated string") }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .malformed("string is not UTF-8") }
        return string
    }

    mutating func readWireInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(WireError) -> T {
        guard let value = readInteger(as: T.self) else { throw .malformed("truncated \(T.self)") }
        return value
    }

    mutating func writeHash(_ hash: SHA256Hash) {
        writeBytes(hash.bytes)
    }

    mutating func readHash() throws(WireError) -> SHA256Hash {
        guard let bytes = readBytes(length: SHA256Hash.byteCount) else { throw .malformed("truncated hash") }
        return SHA256Hash(bytes: bytes)!
    }

    mutating func readContentID() throws(WireError) -> ContentID {
        ContentID(try readHash())
    }
}

/// Why bytes could not be turned into a message. Each maps to an ERROR code sent back
/// before the connection is closed.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case frameTooLarge(kind: UInt8, length: Int, limit: Int)
    case unknownKind(UInt8)

    public var code: ErrorCode {
        switch self {
        case .malformed: .malformedFrame
        case .frameTooLarge: .frameTooLarge
        case .unknownKind: .unknownKind
        }
    }

    public var description: String {
        switch self {
        case .malformed(let why): "malformed frame: \(why)"
        case .frameTooLarge(let kind, let length, let limit):
            "frame of kind 0x\(String(kind, radix: 16)) declares \(length) bytes, limit is \(limit)"
        case .unknownKind(let kind): "unknown message kind 0x\(String(kind, radix: 16))"
        }
    }
}
