import NIOCore
import NIOEmbedded
import NIOTestUtils
import SonicCore
import SonicWire
import Testing

@Suite struct FrameCodecTests {
    @Test func everyMessageRoundTripsThroughTheDecoder() throws {
        for message in SampleMessages.all {
            var buffer = SampleMessages.frame(message)
            var decoder = FrameDecoder()
            let decoded = try decoder.decode(buffer: &buffer)
            #expect(decoded == message, "\(message.kind)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func manyFramesInOneBufferComeOutInOrder() throws {
        var buffer = ByteBuffer()
        for message in SampleMessages.all { buffer.writeFrame(message) }
        var decoder = FrameDecoder()
        var out: [Message] = []
        while let m = try decoder.decode(buffer: &buffer) { out.append(m) }
        #expect(out == SampleMessages.all)
    }

    @Test func theDecoderHandlesBytesArrivingOneAtATime() throws {
        let pairs = SampleMessages.all.map { (SampleMessages.frame($0), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func anEmbeddedChannelEncodesAndDecodes() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        for message in SampleMessages.all {
            try channel.writeOutbound(message)
            let wire = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(wire == SampleMessages.frame(message))
            try channel.writeInbound(wire)
            #expect(try channel.readInbound(as: Message.self) == message)
        }
        #expect(try channel.finish().isClean)
    }

    @Test func aShortReadReturnsNilAndLeavesTheBufferAlone() throws {
        let full = SampleMessages.frame(SampleMessages.all[0])
        for cut in [0, 1, 4, 5, full.readableBytes - 1] {
            var partial = full.getSlice(at: 0, length: cut)!
            var decoder = FrameDecoder()
            #expect(try decoder.decode(buffer: &partial) == nil)
            #expect(partial.readableBytes == cut)
            #expect(partial.readerIndex == 0)
        }
    }

    @Test func errorTextsRoundTripUpToTheStringLimitAndAreCutBetweenCharacters() throws {
        // Found while writing the fuzz target: the encoder once cut error texts 4 bytes short
        // of what the decoder accepts, so a decoded ERROR did not re-encode to itself.
        let longest = String(repeating: "x", count: WireLimits.maximumStringLength)
        var buffer = SampleMessages.frame(.error(ErrorMessage(.notFound, longest)))
        var decoder = FrameDecoder()
        #expect(try decoder.decode(buffer: &buffer) == .error(ErrorMessage(.notFound, longest)))
        // Longer texts are cut, never inside a multi-byte character.
        let tooLong = String(repeating: "ü", count: WireLimits.maximumStringLength)
        var cut = SampleMessages.frame(.error(ErrorMessage(.notFound, tooLong)))
        guard case .error(let e) = try decoder.decode(buffer: &cut) else {
            Issue.record("not an ERROR")
            return
        }
        #expect(e.message == String(repeating: "ü", count: WireLimits.maximumStringLength / 2))
    }

    // MARK: Rejections

    func decode(_ bytes: [UInt8]) throws -> Message? {
        var buffer = ByteBuffer(bytes: bytes)
        var decoder = FrameDecoder()
        return try decoder.decode(buffer: &buffer)
    }

    @Test func anUnknownKindIsRefusedFromTheHeaderAlone() {
        #expect(throws: WireError.unknownKind(0x7f)) { try decode([0, 0, 0, 100, 0x7f]) }
        #expect(throws: WireError.unknownKind(0)) { try decode([0, 0, 0, 0, 0]) }
    }

    @Test func aLengthAboveTheKindsLimitIsRefusedFromTheHeaderAlone() {
        let limit = WireLimits.maximumPayload(for: .hello)
        #expect(throws: WireError.frameTooLarge(kind: 0x01, length: limit + 1, limit: limit)) {
            try decode([0, 0, 0x04, 0x01, 0x01])
        }
        #expect(throws: WireError.self) { try decode([0xff, 0xff, 0xff, 0xff, Message.Kind.data.rawValue]) }
        // Empty messages may not carry a payload.
        #expect(throws: WireError.self) { try decode([0, 0, 0, 1, Message.Kind.ok.rawValue, 0]) }
    }

    @Test func malformedPayloadsAreRefused() {
        // Trailing byte after a complete END.
        #expect(throws: WireError.self) { try decode([0, 0, 0, 4 + 1, 0x25, 0, 0, 0, 1, 9]) }
        // HELLO cut inside its agent string.
        #expect(throws: WireError.self) { try decode([0, 0, 0, 8, 0x01, 0, 1, 0, 0, 0, 0, 0, 5]) }
        // Invalid UTF-8 in a string.
        #expect(throws: WireError.self) { try decode([0, 0, 0, 4, 0x11, 0, 0, 0, 1] + [0, 2, 0xc3, 0x28]) }
        // Unknown role, search mode, block encoding.
        #expect(throws: WireError.self) { try decode([0, 0, 0, 8, 0x01, 0, 1, 9, 0, 0, 0, 0, 0]) }
        #expect(throws: WireError.self) { try decode([0, 0, 0, 11, 0x13, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: WireError.self) { try decode([0, 0, 0, 9, 0x24, 0, 0, 0, 1, 5, 0, 0, 0, 0]) }
    }

    @Test func aRawBlockMustCarryExactlyItsDeclaredLength() {
        // Declares 4 raw bytes, carries 2.
        #expect(throws: WireError.self) { try decode([0, 0, 0, 11, 0x24, 0, 0, 0, 1, 0, 0, 0, 0, 4, 1, 2]) }
    }

    @Test func aBlockDeclaringMoreThanTheMaximumIsRefused() {
        let declared = UInt32(WireLimits.maximumBlockLength + 1)
        var b = ByteBuffer()
        b.writeInteger(UInt32(9 + 2))
        b.writeInteger(Message.Kind.data.rawValue)
        b.writeInteger(UInt32(1))
        b.writeInteger(DataBlock.Encoding.deflate.rawValue)
        b.writeInteger(declared)
        b.writeBytes([1, 2])
        #expect(throws: WireError.self) { try decode(Array(b.readableBytesView)) }
    }

    @Test func countsAboveTheirLimitsAreRefusedBeforeAllocating() {
        var b = ByteBuffer()
        b.writeInteger(UInt32(4))
        b.writeInteger(Message.Kind.register.rawValue)
        b.writeInteger(UInt32(WireLimits.maximumFilesPerFrame + 1))
        #expect(throws: WireError.self) { try decode(Array(b.readableBytesView)) }
        var r = ByteBuffer()
        r.writeInteger(UInt32(8))
        r.writeInteger(Message.Kind.searchResults.rawValue)
        r.writeInteger(UInt32(0))
        r.writeInteger(UInt32(WireLimits.maximumResultsPerFrame + 1))
        #expect(throws: WireError.self) { try decode(Array(r.readableBytesView)) }
    }

    @Test func aStreamEndingInsideAFrameIsAnError() throws {
        var partial = SampleMessages.frame(.obtain(requestID: 1, name: "x")).getSlice(at: 0, length: 7)!
        var decoder = FrameDecoder()
        #expect(throws: WireError.self) { try decoder.decodeLast(buffer: &partial, seenEOF: true) }
        var empty = ByteBuffer()
        #expect(try decoder.decodeLast(buffer: &empty, seenEOF: true) == nil)
    }
}
