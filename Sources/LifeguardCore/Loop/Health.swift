import Glibc

/// What Lifeguard tells probes and people: the notify socket, the readiness prober, the status file,
/// and the facts they need that the state machine does not keep.
public final class Health {
    public let notify: NotifyListener?
    public let prober: ReadinessProber?
    public let reporter: StatusReporter
    /// The fields that do not change: pid, command name, start time, boot, interval.
    public var base: Status
    var serverStatus: String?
    var serverVersion: String?
    var readySince: WallClockTime?
    var lastEvent: Status.Event?
    /// /proc/<pid>/comm of the main child, read into a fixed buffer; a String only when it changes
    /// (the entrypoint exec'ing mysqld keeps the pid and changes the name).
    private var commBuffer = [UInt8](repeating: 0, count: 64)
    private var commBytes: [UInt8] = []
    private var commName: String?
    /// /proc/PID/comm of the current child as a C string, made once per child.
    private var commPath: (pid: pid_t, path: ContiguousArray<CChar>)?

    public init(notify: NotifyListener? = nil, prober: ReadinessProber? = nil,
                reporter: StatusReporter = StatusReporter(statusPath: nil, metricsPath: nil, interval: .seconds(2), logger: Logger()),
                base: Status = Status()) {
        self.notify = notify
        self.prober = prober
        self.reporter = reporter
        self.base = base
    }

    func childStarted(pid: pid_t) {
        serverStatus = nil
        serverVersion = nil
        readySince = nil
        prober?.begin(pid: pid, now: .now())
    }

    func becameReady() {
        readySince = .now()
        prober?.end()
    }

    /// The running program's name.
    func commandName(pid: pid_t) -> String? {
        if commPath?.pid != pid { commPath = (pid, "/proc/\(pid)/comm".utf8CString) }
        guard let path = commPath?.path,
              let file = path.withUnsafeBufferPointer({ try? FileDescriptor.open($0.baseAddress!, O_RDONLY) })
        else { return commName }
        defer { file.close() }
        let count = (try? commBuffer.withUnsafeMutableBytes { buffer in
            Result { () throws(Errno) in try file.read(into: buffer) }
        }.get()) ?? 0
        var end = count
        while end > 0, commBuffer[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        if end > 0, !commBytes.elementsEqual(commBuffer[0..<end]) {
            commBytes = Array(commBuffer[0..<end])
            commName = String(decoding: commBytes, as: UTF8.self)
        }
        return commName
    }

    func record(reason: String, detail: String) {
        lastEvent = Status.Event(reason: reason, at: .now(), detail: detail)
    }
}
