/// Parsers for the values of `LIFEGUARD_*` variables and flags (the memory trigger's own are next to
/// `TriggerSetting`). Each returns nil for anything it does
/// not accept; the caller turns that into one error line naming the variable, the value and `accepted`.
public enum ValueParsers {
    public static let durationAccepted = "a duration: seconds (60, 2.5) or a number with ms, s, m or h (500ms, 90s, 2m)"

    /// "60" (seconds), "2.5", "500ms", "90s", "2m", "1h". Never negative; nil on overflow.
    public static func duration(_ text: String) -> Duration? {
        guard let (number, unit) = splitNumber(text), let value = DecimalNumber(number) else { return nil }
        let nanosecondsPerUnit: UInt64
        switch unit {
        case "", "s": nanosecondsPerUnit = 1_000_000_000
        case "ms": nanosecondsPerUnit = 1_000_000
        case "m": nanosecondsPerUnit = 60_000_000_000
        case "h": nanosecondsPerUnit = 3_600_000_000_000
        default: return nil
        }
        guard let nanoseconds = value.scaled(by: nanosecondsPerUnit), nanoseconds <= UInt64(Int64.max) else {
            return nil
        }
        return .nanoseconds(Int64(nanoseconds))
    }

    public static let sizeAccepted = "a size: bytes (268435456) or a number with K, M, G or T (1024-based; KiB, MiB, GiB, TiB and Ki, Mi, Gi, Ti also accepted)"
    public static let sizeOrPercentAccepted = sizeAccepted + ", or a percentage of the hard limit (95%)"

    /// Bytes, or a number with a 1024-based unit: K, KB, KiB, Ki (any case), M…, G…, T…. nil on overflow.
    public static func size(_ text: String) -> UInt64? {
        guard let (number, unit) = splitNumber(text), let value = DecimalNumber(number) else { return nil }
        let shift: UInt64
        switch unit {
        case "", "b": shift = 0
        case "k", "kb", "kib", "ki": shift = 10
        case "m", "mb", "mib", "mi": shift = 20
        case "g", "gb", "gib", "gi": shift = 30
        case "t", "tb", "tib", "ti": shift = 40
        default: return nil
        }
        return value.scaled(by: 1 << shift)
    }

    /// "95%" → 95.0; accepts (0, 100].
    public static func percentage(_ text: String) -> Double? {
        guard text.hasSuffix("%"), let (number, unit) = splitNumber(String(text.dropLast())), unit.isEmpty,
              let value = Double(number), value > 0, value <= 100
        else { return nil }
        return value
    }

    public static let rateAccepted = "a size per second greater than zero, such as 4G, 4G/s or 500MiB/s"

    /// LIFEGUARD_FILL_RATE: a size, optionally followed by "/s".
    public static func rate(_ text: String) -> UInt64? {
        let size = text.hasSuffix("/s") ? String(text.dropLast(2)) : text
        guard let bytes = self.size(size), bytes > 0 else { return nil }
        return bytes
    }

    /// An absolute path that does not end in "/".
    public static func absolutePath(_ text: String) -> String? {
        text.hasPrefix("/") && (text == "/" || !text.hasSuffix("/")) ? text : nil
    }

    /// `parse`, or "none" for an explicit nothing (a value of nil).
    public static func orNone<Value>(_ parse: @escaping @Sendable (String) -> Value?) -> @Sendable (String) -> Value?? {
        { text in text == "none" ? .some(nil) : parse(text).map(Optional.some) }
    }

    public static let booleanAccepted = "1, 0, true, false, yes, no, on or off"

    public static func boolean(_ text: String) -> Bool? {
        switch asciiLowercased(text) {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: return nil
        }
    }

    public static let countAccepted = "a whole number"

    /// A non-negative whole number (no sign, no unit).
    public static func count(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }

    /// Splits "12.5MiB" into ("12.5", "mib"): the number must start the text (no spaces, no sign);
    /// the unit comes back in ASCII lower case. Works on bytes: no Unicode tables are touched.
    package static func splitNumber(_ text: String) -> (Substring, String)? {
        let utf8 = text.utf8
        let end = utf8.firstIndex { !(($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".")) } ?? utf8.endIndex
        guard end != utf8.startIndex else { return nil }
        return (text[..<end], asciiLowercased(text[end...]))
    }

    /// ASCII-only lower case (Unicode case mapping would pull its tables into memory for nothing).
    package static func asciiLowercased<S: StringProtocol>(_ text: S) -> String {
        String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

/// A non-negative decimal number kept exact ("2.5" = 25 / 10), so units multiply without rounding error.
struct DecimalNumber {
    var digits: UInt64
    var fractionDigits: Int

    init?<S: StringProtocol>(_ text: S) {
        var digits: UInt64 = 0
        var fractionDigits = 0
        var seenPoint = false
        var seenDigit = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                if seenPoint { return nil }
                seenPoint = true
                continue
            }
            guard byte >= 48, byte <= 57 else { return nil }
            seenDigit = true
            if seenPoint {
                // Digits past nanosecond/byte precision cannot matter; drop them instead of overflowing.
                if fractionDigits >= 9 { continue }
                fractionDigits += 1
            }
            let (times10, overflow1) = digits.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - 48))
            if overflow1 || overflow2 { return nil }
            digits = sum
        }
        guard seenDigit, text.last != "." else { return nil }
        self.digits = digits
        self.fractionDigits = fractionDigits
    }

    /// value × factor, truncated to a whole number; nil on overflow.
    func scaled(by factor: UInt64) -> UInt64? {
        var divisor: UInt64 = 1
        for _ in 0..<fractionDigits { divisor *= 10 }
        let product = digits.multipliedFullWidth(by: factor)
        guard product.high < divisor else { return nil }
        return divisor.dividingFullWidth(product).quotient
    }
}
