import Glibc

/// A point on CLOCK_MONOTONIC, in nanoseconds. Every timer in Lifeguard uses it, so a jump of the
/// wall clock (NTP, a VM resume) never shortens a grace period or delays a memory sample.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    @inline(__always)
    public static func now() -> MonotonicInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return MonotonicInstant(nanoseconds: Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec))
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: lhs.nanoseconds.addingClamped(rhs.nanoseconds))
    }

    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration {
        .exactly(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String { "\(nanoseconds)ns" }
}

extension Int64 {
    @inline(__always)
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

/// Conversions the loop runs on every turn. They go through `attoseconds` and inline Int128
/// arithmetic rather than `components` and `.nanoseconds(_:)`: those call into the standard
/// library's one large code section, and touching it costs Lifeguard's steady state hundreds of
/// kilobytes of resident code (see `Footprint`).
extension Duration {
    @inline(__always)
    public static func exactly(nanoseconds: Int64) -> Duration {
        Duration(attoseconds: Int128(nanoseconds) &* 1_000_000_000)
    }

    /// The duration in whole nanoseconds, clamped to Int64.
    @inline(__always)
    public var nanoseconds: Int64 { Int64(clamping: attoseconds / 1_000_000_000) }

    /// The duration in seconds as a Double, for arithmetic with rates, logs and the status file.
    @inline(__always)
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// `timespec` for ppoll(2); negative durations become zero.
    package var timespec: Glibc.timespec {
        let ns = max(0, nanoseconds)
        return Glibc.timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }
}

/// Wall-clock time, only for timestamps people read (logs, `started_at`, `updated_at`).
public struct WallClockTime: Hashable, Sendable {
    public var secondsSinceEpoch: Int64
    public var nanoseconds: Int32

    public init(secondsSinceEpoch: Int64, nanoseconds: Int32 = 0) {
        self.secondsSinceEpoch = secondsSinceEpoch
        self.nanoseconds = nanoseconds
    }

    public static func now() -> WallClockTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return WallClockTime(secondsSinceEpoch: Int64(time.tv_sec), nanoseconds: Int32(time.tv_nsec))
    }

    /// RFC 3339 in UTC: `2026-11-25T15:12:27.123Z` (milliseconds) or `2026-11-25T15:12:27Z`.
    public func rfc3339(milliseconds: Bool = true) -> String {
        var writer = ByteWriter(capacity: 24)
        writer.appendRFC3339(self, milliseconds: milliseconds)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Parses what `rfc3339` writes (and offsets other than Z); nil for anything else.
    public static func parseRFC3339(_ text: String) -> WallClockTime? {
        var parser = RFC3339Parser(Array(text.utf8))
        return parser.parse()
    }

    /// Days-from-civil inverse (Howard Hinnant's algorithm), so no libc time zone state is touched.
    var civil: (Int64, Int64, Int64, Int64, Int64, Int64) {
        let days = secondsSinceEpoch >= 0 ? secondsSinceEpoch / 86_400 : (secondsSinceEpoch - 86_399) / 86_400
        let secondsOfDay = secondsSinceEpoch - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, secondsOfDay / 3600, secondsOfDay % 3600 / 60, secondsOfDay % 60)
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

private struct RFC3339Parser {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func number(_ width: Int) -> Int64? {
        guard index + width <= bytes.count else { return nil }
        var value: Int64 = 0
        for byte in bytes[index..<index + width] {
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int64(byte - 48)
        }
        index += width
        return value
    }

    mutating func expect(_ character: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == character || bytes[index] == character | 0x20 else { return false }
        index += 1
        return true
    }

    mutating func parse() -> WallClockTime? {
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
              let day = number(2), expect(UInt8(ascii: "T")), let hour = number(2), expect(UInt8(ascii: ":")),
              let minute = number(2), expect(UInt8(ascii: ":")), let second = number(2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var nanos: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale: Int64 = 100_000_000
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                nanos += Int64(bytes[index] - 48) * scale
                scale /= 10
                index += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
        }
        var offset: Int64 = 0
        if expect(UInt8(ascii: "Z")) {
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign: Int64 = bytes[index] == UInt8(ascii: "+") ? 1 : -1
            index += 1
            guard let hours = number(2), expect(UInt8(ascii: ":")), let minutes = number(2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let days = WallClockTime.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return WallClockTime(secondsSinceEpoch: seconds, nanoseconds: Int32(nanos))
    }
}
