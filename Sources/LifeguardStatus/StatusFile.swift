import Glibc
import LifeguardSystem

/// When the status is written: on every state change or new event (the loop marks it dirty) and at
/// least every interval. The loop's side: it never writes a file itself, it hands the status to
/// `deliver` (the output thread, so that a slow filesystem never delays the memory guard; a direct
/// write where there is no thread: tests, and a thread that could not start).
public final class StatusReporter {
    public let interval: Duration
    public private(set) var nextWrite: MonotonicInstant
    private let deliver: (Status) -> Void

    public init(interval: Duration, deliver: @escaping (Status) -> Void) {
        self.interval = interval
        self.deliver = deliver
        nextWrite = .now()
    }

    /// A reporter that writes nothing.
    public static func none(interval: Duration = .seconds(2)) -> StatusReporter {
        StatusReporter(interval: interval) { _ in }
    }

    public func write(_ current: Status, now: MonotonicInstant) {
        nextWrite = now + interval
        deliver(current)
    }
}

/// The status file and the optional metrics file. A failure (unwritable directory, full disk) is
/// logged once and retried at the next write; supervision never depends on it. Used by one thread at
/// a time (the output thread).
public final class StatusFiles: @unchecked Sendable {
    /// Where the status file is written, and where `lifeguard probe` and `lifeguard status` look for
    /// it when `LIFEGUARD_STATUS_FILE` is not set.
    public static let defaultPath = "/run/lifeguard/status.json"

    public let status: AtomicFileWriter?
    public let metrics: AtomicFileWriter?
    private let logger: Logger
    /// Whether the last write of each file failed (the warning is logged once, on the change).
    private var statusFailing = false
    private var metricsFailing = false
    /// The status file's bytes, rebuilt in place at every write.
    private var writer = ByteWriter()
    private var command = CommandName()

    public init(statusPath: String?, metricsPath: String?, logger: Logger) {
        status = statusPath.map(AtomicFileWriter.init(path:))
        metrics = metricsPath.map(AtomicFileWriter.init(path:))
        self.logger = logger
    }

    /// Writes `current`, with `command` what the child runs now when it can be read (the entrypoint
    /// has exec'd mysqld: same pid, new name), else the name the status came with.
    public func write(_ current: Status) {
        var current = current
        if let pid = current.childPID, let name = command.read(pid: pid) { current.command = name }
        if let status {
            current.encode(into: &writer)
            attempt(status, failing: &statusFailing) { () throws(Errno) in
                try writer.bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try status.write(bytes: buffer) } }.get()
            }
        }
        if let metrics { attempt(metrics, failing: &metricsFailing) { () throws(Errno) in try metrics.write(MetricsText.render(current)) } }
    }

    private func attempt(_ file: AtomicFileWriter, failing: inout Bool, _ body: () throws(Errno) -> Void) {
        do {
            try body()
            if failing {
                failing = false
                logger.info("status file writable again", [("path", .string(file.path))])
            }
        } catch {
            if !failing {
                failing = true
                logger.warn("cannot write the status file; still supervising, retrying every interval",
                            [("path", .string(file.path)), ("error", .string(error.description))])
            }
        }
    }
}

/// /proc/<pid>/comm of the main child, read into a fixed buffer; a String only when it changes.
struct CommandName {
    private var buffer = [UInt8](repeating: 0, count: 64)
    private var bytes: [UInt8] = []
    private var name: String?
    /// /proc/PID/comm as a C string, made once per child.
    private var path: (pid: pid_t, path: ContiguousArray<CChar>)?

    mutating func read(pid: pid_t) -> String? {
        if path?.pid != pid { path = (pid, "/proc/\(pid)/comm".utf8CString) }
        guard let cPath = path?.path,
              let file = cPath.withUnsafeBufferPointer({ try? FileDescriptor.open($0.baseAddress!, O_RDONLY) })
        else { return name }
        defer { file.close() }
        let count = (try? buffer.withUnsafeMutableBytes { target in
            Result { () throws(Errno) in try file.read(into: target) }
        }.get()) ?? 0
        var end = count
        while end > 0, buffer[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        if end > 0, !bytes.elementsEqual(buffer[0..<end]) {
            bytes = Array(buffer[0..<end])
            name = String(decoding: bytes, as: UTF8.self)
        }
        return name
    }
}
