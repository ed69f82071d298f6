import NIOCore

/// Turns bytes into ``Message``s, one frame at a time.
///
/// The header is checked as soon as its 5 bytes are in: an unknown kind or a length above
/// that kind's limit (``WireLimits/maximumPayload(for:)``) fails at once, so a peer cannot
/// make us buffer a frame we would refuse anyway. A short read leaves the buffer as it was.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Message

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> Message? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
              let kindByte = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self)
        else { return nil }
        guard let kind = Message.Kind(rawValue: kindByte) else { throw WireError.unknownKind(kindByte) }
        let limit = WireLimits.maximumPayload(for: kind)
        guard Int(length) <= limit else {
            throw WireError.frameTooLarge(kind: kindByte, length: Int(length), limit: limit)
        }
        guard buffer.readableBytes >= WireLimits.headerLength + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: WireLimits.headerLength)
        var payload = buffer.readSlice(length: Int(length))!
        return try Message.decode(kind: kind, payload: &payload)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Message? {
        if let message = try decode(buffer: &buffer) { return message }
        if seenEOF, buffer.readableBytes > 0 {
            throw WireError.malformed("connection closed inside a frame (\(buffer.readableBytes) bytes pending)")
        }
        return nil
    }
}

/// Writes each outbound ``Message`` as one frame.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Message

    public init() {}

    public func encode(data: Message, out: inout ByteBuffer) throws {
        out.writeFrame(data)
    }
}
