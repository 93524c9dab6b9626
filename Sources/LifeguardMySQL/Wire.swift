/// The MySQL client/server protocol's primitive types, read from a packet's payload: little-endian
/// fixed-width integers, length-encoded integers and strings, NUL-terminated strings. Every read
/// checks its bounds and returns nil past the end: a payload is untrusted input.
public struct WireReader {
    public let bytes: ArraySlice<UInt8>
    public private(set) var index: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    public var remaining: Int { bytes.endIndex - index }
    public var isAtEnd: Bool { index >= bytes.endIndex }

    public mutating func byte() -> UInt8? {
        guard index < bytes.endIndex else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    /// A little-endian unsigned integer of `width` bytes (1 to 8).
    public mutating func integer(width: Int) -> UInt64? {
        guard width > 0, width <= 8, remaining >= width else { return nil }
        var value: UInt64 = 0
        for offset in 0..<width { value |= UInt64(bytes[index + offset]) << (8 * UInt64(offset)) }
        index += width
        return value
    }

    /// A length-encoded integer: one byte below 0xFB, else 0xFC/0xFD/0xFE and 2, 3 or 8 bytes.
    /// 0xFB (NULL in a row) and 0xFF (an error packet's marker) are not integers: nil.
    public mutating func lengthEncodedInteger() -> UInt64? {
        guard let first = byte() else { return nil }
        switch first {
        case 0..<0xFB: return UInt64(first)
        case 0xFC: return integer(width: 2)
        case 0xFD: return integer(width: 3)
        case 0xFE: return integer(width: 8)
        default: return nil
        }
    }

    public mutating func bytes(count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { index += count }
        return bytes[index..<index + count]
    }

    /// Bytes up to a NUL, which is consumed; nil when there is none.
    public mutating func nulTerminated() -> ArraySlice<UInt8>? {
        guard let end = bytes[index...].firstIndex(of: 0) else { return nil }
        defer { index = end + 1 }
        return bytes[index..<end]
    }

    public mutating func lengthEncodedBytes() -> ArraySlice<UInt8>? {
        guard let length = lengthEncodedInteger(), length <= UInt64(remaining) else { return nil }
        return bytes(count: Int(length))
    }

    public mutating func rest() -> ArraySlice<UInt8> {
        defer { index = bytes.endIndex }
        return bytes[index...]
    }

    public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, remaining >= count else { return false }
        index += count
        return true
    }
}

/// Writes the same primitives into a payload.
public struct WireWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func integer(_ value: UInt64, width: Int) {
        for offset in 0..<width { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(offset)))) }
    }

    public mutating func lengthEncodedInteger(_ value: UInt64) {
        switch value {
        case 0..<0xFB: bytes.append(UInt8(value))
        case 0xFB..<(1 << 16): bytes.append(0xFC); integer(value, width: 2)
        case (1 << 16)..<(1 << 24): bytes.append(0xFD); integer(value, width: 3)
        default: bytes.append(0xFE); integer(value, width: 8)
        }
    }

    public mutating func append<Bytes: Sequence>(_ data: Bytes) where Bytes.Element == UInt8 { bytes.append(contentsOf: data) }

    public mutating func nulTerminated(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        bytes.append(0)
    }

    public mutating func lengthEncoded<Bytes: Collection>(_ data: Bytes) where Bytes.Element == UInt8 {
        lengthEncodedInteger(UInt64(data.count))
        bytes.append(contentsOf: data)
    }

    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }
}

extension String {
    /// Text from protocol bytes (the connection's character set is utf8mb4; invalid sequences repaired).
    init(wire bytes: ArraySlice<UInt8>) { self.init(decoding: bytes, as: UTF8.self) }
}
