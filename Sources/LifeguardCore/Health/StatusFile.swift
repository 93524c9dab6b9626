import Glibc

/// Writes a small file atomically: a temporary file in the same directory, then rename(2), so a
/// probe never reads half a file. World-readable (0644, whatever the umask), directory created
/// (0755) when missing. A class: the loop holds it in an optional, and copying an optional struct
/// of strings goes through generic value witnesses (code the steady state otherwise never runs).
public final class AtomicFileWriter: Sendable {
    public let path: String
    private let temporary: String
    /// Both paths as C strings, made once: a Swift String passed to open(2) is copied into a new
    /// array on every call, code the steady loop otherwise never runs (see `Footprint`).
    private let pathC: ContiguousArray<CChar>
    private let temporaryC: ContiguousArray<CChar>

    public init(path: String) {
        self.path = path
        temporary = path + ".tmp.\(getpid())"
        pathC = path.utf8CString
        temporaryC = temporary.utf8CString
    }

    public var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public func write(_ text: String) throws(Errno) {
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try write(bytes: buffer) } }.get()
    }

    /// The directory is created only when it is missing (the open says ENOENT), not on every write.
    public func write(bytes: UnsafeRawBufferPointer) throws(Errno) {
        let result = temporaryC.withUnsafeBufferPointer { temporary in
            pathC.withUnsafeBufferPointer { path in
                Result { () throws(Errno) in try write(bytes: bytes, temporary: temporary.baseAddress!, path: path.baseAddress!) }
            }
        }
        try result.get()
    }

    private func write(bytes: UnsafeRawBufferPointer, temporary: UnsafePointer<CChar>, path: UnsafePointer<CChar>) throws(Errno) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        } catch where error == .noEntry {
            try AtomicFileWriter.makeDirectories(directory)
            fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        }
        do {
            _ = fchmod(fd.rawValue, 0o644)
            try fd.writeAll(bytes)
            fd.close()
        } catch {
            fd.close()
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            let error = Errno.current
            unlink(temporary)
            throw error
        }
    }

    /// mkdir -p with mode 0755.
    public static func makeDirectories(_ path: String) throws(Errno) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST { throw Errno.current }
        }
    }
}

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
