/// Text built as bytes in one reused buffer: how the status file is written every interval without
/// String building, number-to-text conversions or float printing, which would keep a good part of
/// the standard library resident for a few hundred bytes of JSON.
public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func append(bytes other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }

    public mutating func append(_ value: UInt64) {
        if value >= 10 { append(value / 10) }
        bytes.append(UInt8(truncatingIfNeeded: value % 10) + 48)
    }

    public mutating func append(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            append(UInt64(value.magnitude))
        } else {
            append(UInt64(value))
        }
    }

    /// `value` zero-padded to `width` digits.
    public mutating func append(_ value: Int64, width: Int) {
        var divisor: Int64 = 1
        for _ in 1..<max(width, 1) { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(truncatingIfNeeded: rest / divisor % 10) + 48)
            rest %= divisor
            divisor /= 10
        }
    }

    /// A decimal with up to three fraction digits (2, 0.5, 1.25), as JSON writes numbers.
    public mutating func append(milliseconds value: Int64) {
        append(value / 1000)
        var fraction = value.magnitude % 1000
        guard fraction != 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var digits: [UInt8] = []
        for _ in 0..<3 {
            digits.append(UInt8(truncatingIfNeeded: fraction / 100) + 48)
            fraction = fraction % 100 * 10
        }
        while digits.last == 48 { digits.removeLast() }
        bytes.append(contentsOf: digits)
    }

    /// `text` as a JSON string literal, quotes included: the one JSON escaper (`JSONText.quoted` is
    /// this, as a String). Control characters are escaped; everything else, non-ASCII included, is
    /// written as UTF-8.
    public mutating func appendJSONString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\r"): append("\\r")
            case UInt8(ascii: "\t"): append("\\t")
            case 0..<0x20, 0x7f:
                append("\\u00")
                bytes.append(hexDigit(byte >> 4))
                bytes.append(hexDigit(byte & 0xf))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// RFC 3339 in UTC: `2026-11-25T15:12:27.123Z` (milliseconds) or `2026-11-25T15:12:27Z`. The one
    /// RFC 3339 writer (`WallClockTime.rfc3339` is this, as a String).
    public mutating func appendRFC3339(_ time: WallClockTime, milliseconds: Bool = true) {
        let (year, month, day, hour, minute, second) = time.civil
        append(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        append(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        append(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        append(hour, width: 2)
        bytes.append(UInt8(ascii: ":"))
        append(minute, width: 2)
        bytes.append(UInt8(ascii: ":"))
        append(second, width: 2)
        if milliseconds {
            bytes.append(UInt8(ascii: "."))
            append(Int64(time.nanoseconds / 1_000_000), width: 3)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    private func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 48 + value : 87 + value }
}
