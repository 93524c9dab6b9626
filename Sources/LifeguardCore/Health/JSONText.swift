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

/// Writes one JSON object, member by member, pretty-printed with two spaces.
public struct JSONObjectWriter {
    private var members: [String] = []
    private let indent: String

    public init(indent: Int = 1) { self.indent = String(repeating: "  ", count: indent) }

    public mutating func add(_ key: String, _ value: String?) { append(key, value.map(JSONText.quoted) ?? "null") }
    public mutating func add<I: BinaryInteger>(_ key: String, _ value: I?) { append(key, value.map { String($0) } ?? "null") }
    public mutating func add(_ key: String, _ value: Double?) { append(key, value.map(JSONText.number) ?? "null") }
    public mutating func add(_ key: String, _ value: Bool?) { append(key, value.map { $0 ? "true" : "false" } ?? "null") }
    public mutating func add(_ key: String, object: JSONObjectWriter?) { append(key, object?.text ?? "null") }

    private mutating func append(_ key: String, _ rendered: String) {
        members.append(indent + JSONText.quoted(key) + ": " + rendered)
    }

    /// The object's text; nested objects close one level up.
    public var text: String {
        guard !members.isEmpty else { return "{}" }
        return "{\n" + members.joined(separator: ",\n") + "\n" + String(indent.dropLast(2)) + "}"
    }
}
