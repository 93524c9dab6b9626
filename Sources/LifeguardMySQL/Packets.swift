/// Packet framing: every packet is a 3-byte little-endian payload length, a sequence number, then
/// the payload. A payload of 0xFFFFFF bytes or more is split; Lifeguard's own queries and the small
/// results it asks for never come near that, so a split packet is refused (`tooLarge`) rather than
/// reassembled: Lifeguard must not grow by what a server sends.
public struct PacketFramer {
    public enum Failure: Error, Equatable, Sendable {
        /// A payload larger than `maximumPayload`.
        case tooLarge(Int)
        /// The sequence number is not the one expected.
        case outOfSequence(expected: UInt8, received: UInt8)
    }

    public struct Packet: Equatable, Sendable {
        public var sequence: UInt8
        public var payload: [UInt8]

        public init(sequence: UInt8, payload: [UInt8]) {
            self.sequence = sequence
            self.payload = payload
        }
    }

    /// The largest payload accepted (below the 16 MiB split point).
    public let maximumPayload: Int
    private var buffer: [UInt8] = []
    /// The sequence number the next packet from the server must carry.
    public var expectedSequence: UInt8 = 0

    public init(maximumPayload: Int = 1 << 20) {
        self.maximumPayload = min(maximumPayload, 0xFF_FFFE)
    }

    /// Bytes received and not yet a whole packet.
    public var pendingBytes: Int { buffer.count }

    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 { buffer.append(contentsOf: bytes) }

    /// The next whole packet, nil when more bytes are needed.
    public mutating func next() throws(Failure) -> Packet? {
        guard buffer.count >= 4 else { return nil }
        let length = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16
        guard length <= maximumPayload else { throw .tooLarge(length) }
        let sequence = buffer[3]
        guard sequence == expectedSequence else { throw .outOfSequence(expected: expectedSequence, received: sequence) }
        guard buffer.count >= 4 + length else { return nil }
        let payload = Array(buffer[4..<4 + length])
        buffer.removeFirst(4 + length)
        expectedSequence = sequence &+ 1
        return Packet(sequence: sequence, payload: payload)
    }

    /// `payload` framed with `sequence` (a payload is at most a few KiB here: never split).
    public static func frame(_ payload: [UInt8], sequence: UInt8) -> [UInt8] {
        precondition(payload.count < 0xFF_FFFF, "Lifeguard never sends a payload this large")
        let length = payload.count
        return [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), sequence] + payload
    }
}
