import NIOCore
import SonicWire

/// libFuzzer entry point: arbitrary bytes through `FrameDecoder`.
///
/// Any crash (a trap, an out-of-bounds read under AddressSanitizer) is a bug. Every message
/// that decodes must also re-encode into a frame that decodes to the same message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: count))
    var decoder = FrameDecoder()
    while true {
        let message: Message?
        do {
            message = try decoder.decode(buffer: &buffer)
        } catch {
            return 0
        }
        guard let message else { return 0 }
        var again = ByteBuffer()
        again.writeFrame(message)
        var second = FrameDecoder()
        guard let decodedAgain = try? second.decode(buffer: &again), decodedAgain == message else {
            fatalError("\(message.kind) does not round-trip")
        }
    }
}
