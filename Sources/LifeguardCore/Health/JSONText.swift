/// Building JSON text by hand: Lifeguard links no Foundation (it would triple the supervisor's RSS),
/// so its status file, metrics and JSON logs are written with these few helpers.
public enum JSONText {
    /// `text` as a JSON string literal, quotes included. Control characters are escaped; everything
    /// else, including non-ASCII, is written as UTF-8.
    public static func quoted(_ text: String) -> String {
        var output = "\""
        output.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                output += "\\u00" + hexDigit(scalar.value >> 4) + hexDigit(scalar.value & 0xf)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    /// A JSON number for a Double; NaN and infinities (which JSON lacks) become null.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private static func hexDigit(_ value: UInt32) -> String {
        String(UnicodeScalar(UInt8(value < 10 ? 48 + value : 87 + value)))
    }
}
