import Glibc
import LifeguardSystem

public enum LogLevel: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    case debug, info, warn, error

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }

    public init?(name: String) {
        switch ValueParsers.asciiLowercased(name) {
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warn
        case "error": self = .error
        default: return nil
        }
    }
}

public enum LogFormat: String, CaseIterable, Sendable {
    /// `ts=… level=… msg=… key=value`, one line per event (the default: readable in `docker logs`).
    case logfmt
    /// One JSON object per line, for log pipelines.
    case json
}

/// A typed log field value, so JSON logs keep numbers as numbers.
public enum LogValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init<I: BinaryInteger>(_ value: I) { self = .int(Int64(value)) }
    public init(_ value: Double) { self = .double(value) }
    public init(_ value: String?) { self = value.map(LogValue.string) ?? .null }
    public init<I: BinaryInteger>(_ value: I?) { self = value.map { .int(Int64(clamping: $0)) } ?? .null }
}

public typealias LogFields = [(String, LogValue)]

/// One line per event on stderr, written with a single write(2) so lines from Lifeguard and from the
/// child (which shares stderr) never interleave mid-line. While supervising, lines go through the
/// output thread (`OutputThread`): a stderr nobody reads must not stop the loop.
public final class Logger: @unchecked Sendable {
    public let format: LogFormat
    public let minimumLevel: LogLevel
    private let output: FileDescriptor
    private let clock: () -> WallClockTime
    /// Set once, before the loop starts: from then on lines are queued, not written.
    private var thread: OutputThread?

    public init(
        format: LogFormat = .logfmt, minimumLevel: LogLevel = .info, output: FileDescriptor = .standardError,
        clock: @escaping () -> WallClockTime = WallClockTime.now
    ) {
        self.format = format
        self.minimumLevel = minimumLevel
        self.output = output
        self.clock = clock
    }

    /// Lines go to `thread` from now on (it writes them to this logger's output).
    public func send(to thread: OutputThread) { self.thread = thread }

    public func isEnabled(_ level: LogLevel) -> Bool { level >= minimumLevel }

    public func log(_ level: LogLevel, _ message: String, _ fields: LogFields = []) {
        guard isEnabled(level) else { return }
        let line = Logger.render(format: format, time: clock(), level: level, message: message, fields: fields)
        if let thread { thread.append(line: line) } else { try? output.writeAll(line) }
    }

    public func debug(_ message: String, _ fields: LogFields = []) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: LogFields = []) { log(.info, message, fields) }
    public func warn(_ message: String, _ fields: LogFields = []) { log(.warn, message, fields) }
    public func error(_ message: String, _ fields: LogFields = []) { log(.error, message, fields) }

    /// The text of one log line, newline included.
    public static func render(
        format: LogFormat, time: WallClockTime, level: LogLevel, message: String, fields: LogFields
    ) -> String {
        let all: LogFields = [("ts", .string(time.rfc3339())), ("level", .string(level.description)),
                              ("msg", .string(message))] + fields
        switch format {
        case .logfmt:
            return all.map { key, value in key + "=" + logfmtValue(value) }.joined(separator: " ") + "\n"
        case .json:
            return "{" + all.map { key, value in JSONText.quoted(key) + ":" + jsonValue(value) }
                .joined(separator: ",") + "}\n"
        }
    }

    static func logfmtValue(_ value: LogValue) -> String {
        switch value {
        case .string(let text):
            let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
                scalar.value > 0x20 && scalar.value != 0x7f && scalar != "\"" && scalar != "=" && scalar != "\\"
            }
            return plain ? text : JSONText.quoted(text)
        case .int(let number): return String(number)
        case .double(let number): return JSONText.number(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        }
    }

    static func jsonValue(_ value: LogValue) -> String {
        switch value {
        case .string(let text): return JSONText.quoted(text)
        case .int(let number): return String(number)
        case .double(let number): return JSONText.number(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        }
    }
}
