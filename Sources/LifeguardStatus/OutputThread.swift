import CLifeguard
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
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
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
    private var thread: pthread_t?

    /// `files` is where statuses go (nil: none are written); `output` receives the log lines.
    public init(files: StatusFiles?, output: FileDescriptor = .standardError, logCapacity: Int = 256 * 1024) {
        self.files = files
        self.output = output
        self.logCapacity = logCapacity
        pthread_mutex_init(lock, nil)
        // Timed waits (flush at exit) on CLOCK_MONOTONIC: a wall-clock jump must not stretch them.
        var conditionAttributes = pthread_condattr_t()
        pthread_condattr_init(&conditionAttributes)
        pthread_condattr_setclock(&conditionAttributes, CLOCK_MONOTONIC)
        pthread_cond_init(changed, &conditionAttributes)
        pthread_condattr_destroy(&conditionAttributes)
        queuedLines.reserveCapacity(logCapacity)
        writingLines.reserveCapacity(logCapacity)
    }

    /// Starts the thread (once); on failure the caller writes synchronously instead.
    public func start() throws(Errno) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        // Small: it formats nothing big (the default 8 MB is address space only, but there is no need).
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&handle, &attributes, { context in
            Unmanaged<OutputThread>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<OutputThread>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        thread = handle
    }

    public var isRunning: Bool { thread != nil }

    /// Queues one log line; drops it (and counts it) when the queue is full.
    public func append(line: String) {
        var line = line
        line.withUTF8 { bytes in
            withLock {
                if queuedLines.count + bytes.count > logCapacity {
                    droppedLines += 1
                } else {
                    queuedLines.append(contentsOf: bytes)
                }
            }
        }
        pthread_cond_signal(changed)
    }

    /// Hands the status over; one not written yet is replaced (only the latest matters).
    public func submit(_ status: Status) {
        withLock { queuedStatus = status }
        pthread_cond_signal(changed)
    }

    /// Waits until everything handed over has been written, or `timeout` passed (stderr may never
    /// drain: exiting must not hang on it).
    public func flush(timeout: Duration) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(timeout.nanoseconds)
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(lock)
        while busy || !queuedLines.isEmpty || queuedStatus != nil {
            // ETIMEDOUT ends the wait; any other result is a wake-up to look again.
            if pthread_cond_timedwait(changed, lock, &deadline) == ETIMEDOUT { break }
        }
        pthread_mutex_unlock(lock)
    }

    private func run() {
        while true {
            pthread_mutex_lock(lock)
            while queuedLines.isEmpty && queuedStatus == nil && droppedLines == 0 {
                pthread_cond_wait(changed, lock)
            }
            swap(&queuedLines, &writingLines)
            let status = queuedStatus
            queuedStatus = nil
            let dropped = droppedLines
            droppedLines = 0
            busy = true
            pthread_mutex_unlock(lock)

            if dropped > 0 {
                writingLines.append(contentsOf: "lifeguard: \(dropped) log line(s) dropped: stderr did not keep up\n".utf8)
            }
            if !writingLines.isEmpty {
                // Nobody to tell when stderr itself fails.
                _ = writingLines.withUnsafeBytes { try? output.writeAll($0) }
                writingLines.removeAll(keepingCapacity: true)
            }
            if let status, let files { files.write(status) }

            pthread_mutex_lock(lock)
            busy = false
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(lock)
        }
    }

    private func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }
}
