import LifeguardSystem

/// Parsers for cgroup memory files, over raw bytes. They never allocate: the sampler runs them on a
/// buffer allocated once at start, on the path from a reading over the trigger to kill(2).
public enum CgroupFileParser {
    /// v1 reports "no limit" as PAGE_COUNTER_MAX × page size (9223372036854771712 on x86-64); any
    /// value this large is no limit on any architecture.
    public static let unlimitedThreshold: UInt64 = 1 << 62

    /// A limit file: `max` (v2) or a huge v1 value is `.unlimited`; garbage is `.invalid`.
    public enum Limit: Equatable, Sendable {
        case bytes(UInt64)
        case unlimited
        case invalid
    }

    /// The single unsigned integer a file such as `memory.current` holds ("123\n").
    public static func integer(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        var index = 0
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[index] - 48))
            if overflow1 || overflow2 { return nil }
            value = sum
            digits += 1
            index += 1
        }
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        return digits > 0 && index == bytes.count ? value : nil
    }

    /// A limit file (`memory.max`, `memory.limit_in_bytes`, `memory.low`, `memory.high`, …).
    public static func limit(_ bytes: UnsafeRawBufferPointer) -> Limit {
        if let value = integer(bytes) { return value >= unlimitedThreshold ? .unlimited : .bytes(value) }
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        if end - start == 3, bytes[start] == UInt8(ascii: "m"), bytes[start + 1] == UInt8(ascii: "a"),
           bytes[start + 2] == UInt8(ascii: "x") {
            return .unlimited
        }
        return .invalid
    }

    /// The value of `key` in a flat keyed file (`memory.stat`, `memory.events`, `memory.oom_control`):
    /// lines of "key value". Only whole keys match ("inactive_file" does not match
    /// "total_inactive_file"). nil when the key is missing or its value is not a number.
    public static func keyedValue(_ bytes: UnsafeRawBufferPointer, key: StaticString) -> UInt64? {
        var lines = KeyedLines(bytes)
        while let line = lines.next() {
            if line.key.equals(key) { return line.value }
        }
        return nil
    }

    /// The "key value" lines of a flat keyed file, in order, without allocating: one pass reads every
    /// key a caller wants (memory.stat is scanned once per sample, not once per key).
    public struct KeyedLines {
        public struct Line {
            public let key: Key
            /// nil when the value is not a number.
            public let value: UInt64?
        }

        /// A key's bytes, valid while the buffer is.
        public struct Key {
            let bytes: UnsafeRawBufferPointer

            public func equals(_ name: StaticString) -> Bool {
                guard bytes.count == name.utf8CodeUnitCount else { return false }
                let start = name.utf8Start
                for offset in 0..<bytes.count where bytes[offset] != start[offset] { return false }
                return true
            }
        }

        private let bytes: UnsafeRawBufferPointer
        private var lineStart = 0

        public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        /// The next line with a key and a value separated by one space; other lines are skipped.
        public mutating func next() -> Line? {
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                defer { lineStart = lineEnd + 1 }
                var space = lineStart
                while space < lineEnd, bytes[space] != UInt8(ascii: " ") { space += 1 }
                guard space > lineStart, space < lineEnd else { continue }
                return Line(key: Key(bytes: UnsafeRawBufferPointer(rebasing: bytes[lineStart..<space])),
                            value: integer(UnsafeRawBufferPointer(rebasing: bytes[(space + 1)..<lineEnd])))
            }
            return nil
        }
    }

    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t")
    }
}

extension CgroupFileParser.Limit {
    /// The limit in bytes, or nil for none (invalid content counts as none: a garbled limit file must
    /// not invent a limit).
    public var bytes: UInt64? {
        if case .bytes(let value) = self { return value }
        return nil
    }
}
