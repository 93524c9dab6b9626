/// Building JSON text by hand: Lifeguard links no Foundation (it would triple the supervisor's RSS),
/// so its status file, metrics and JSON logs are written with these few helpers.
public enum JSONText {
    /// `text` as a JSON string literal, quotes included. Control characters are escaped; everything
    /// else, including non-ASCII, is written as UTF-8.
    public static func quoted(_ text: String) -> String {
        var writer = ByteWriter(capacity: text.utf8.count + 8)
        writer.appendJSONString(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// A JSON number for a Double; NaN and infinities (which JSON lacks) become null.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
