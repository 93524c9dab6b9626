import Glibc
import LifeguardSystem

/// The one thread besides the loop's: it does the writes that can block, so the loop, which is the
/// memory guard, never waits on a filesystem or a pipe.
///
/// Measured here (bench/race.py, section 4c): with a writer keeping a v1 container's page cache full
/// of dirty pages, a status-file update stalled the loop in the kernel for tens of milliseconds at a
/// time (the rename frees the old file's blocks, and this disk's `discard` waits for the device queue;
/// journal handles wait for commits; every new page waits for reclaim, which waits for writeback), and
/// a two-thread burst takes a 256 MiB container from 30 % to its limit in 70 ms. A stderr pipe that
/// nobody reads (a stuck log collector) would stop a single-threaded init altogether. So the loop only
/// hands work over: the latest status to write (a newer one replaces one not yet written), and log
/// lines (a bounded queue: when stderr does not keep up, lines are dropped and counted, never waited
/// for). The thread holds the lock only to take work, never while it writes.
///
/// It is created after every signal is blocked, so it inherits the mask and never receives one: the
/// loop stays the only owner of signals.
public final class OutputThread: @unchecked Sendable {
    private let lock = ConditionLock()
    private let output: FileDescriptor
    private let logCapacity: Int
    // Guarded by `lock`:
    private var queuedLines: [UInt8] = []
    private var droppedLines = 0
    private var queuedStatus: Status?
    private var busy = false
    // The thread's own:
    private var writingLines: [UInt8] = []
    private let files: StatusFiles?
    public private(set) var isRunning = false

    /// `files` is where statuses go (nil: none are written); `output` receives the log lines.
    public init(files: StatusFiles?, output: FileDescriptor = .standardError, logCapacity: Int = 256 * 1024) {
        self.files = files
        self.output = output
        self.logCapacity = logCapacity
        queuedLines.reserveCapacity(logCapacity)
        writingLines.reserveCapacity(logCapacity)
    }

    /// Starts the thread (once); on failure the caller writes synchronously instead. Its stack is
    /// small: it formats nothing big (the default 8 MB is address space only, but there is no need).
    public func start() throws(Errno) {
        guard !isRunning else { return }
        try SystemThread.start(stackSize: 256 * 1024) { [self] in run() }
        isRunning = true
    }

    /// Queues one log line; drops it (and counts it) when the queue is full.
    public func append(line: String) {
        var line = line
        line.withUTF8 { bytes in
            lock.withLock {
                if queuedLines.count + bytes.count > logCapacity {
                    droppedLines += 1
                } else {
                    queuedLines.append(contentsOf: bytes)
                }
            }
        }
        lock.signal()
    }

    /// Hands the status over; one not written yet is replaced (only the latest matters).
    public func submit(_ status: Status) {
        lock.withLock { queuedStatus = status }
        lock.signal()
    }

    /// Waits until everything handed over has been written, or `timeout` passed (stderr may never
    /// drain: exiting must not hang on it).
    public func flush(timeout: Duration) {
        let deadline = MonotonicInstant.now() + timeout
        lock.lock()
        while busy || !queuedLines.isEmpty || queuedStatus != nil {
            if !lock.wait(until: deadline) { break }
        }
        lock.unlock()
    }

    private func run() {
        while true {
            lock.lock()
            while queuedLines.isEmpty && queuedStatus == nil && droppedLines == 0 {
                lock.wait()
            }
            swap(&queuedLines, &writingLines)
            let status = queuedStatus
            queuedStatus = nil
            let dropped = droppedLines
            droppedLines = 0
            busy = true
            lock.unlock()

            if dropped > 0 {
                writingLines.append(contentsOf: "lifeguard: \(dropped) log line(s) dropped: stderr did not keep up\n".utf8)
            }
            if !writingLines.isEmpty {
                // Nobody to tell when stderr itself fails.
                _ = writingLines.withUnsafeBytes { try? output.writeAll($0) }
                writingLines.removeAll(keepingCapacity: true)
            }
            if let status, let files { files.write(status) }

            lock.lock()
            busy = false
            lock.broadcast()
            lock.unlock()
        }
    }
}
