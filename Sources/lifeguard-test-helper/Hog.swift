import CTestHelperSupport
import Glibc

/// The memory hog: each thread maps and touches chunks on its own schedule.
enum Hog {
    nonisolated(unsafe) static var chunkBytes = 1 << 20
    nonisolated(unsafe) static var bytesPerSecondPerThread: Double = 0
    nonisolated(unsafe) static var stopAtChunksPerThread = Int.max
    /// With --cgroup, each chunk after the prefill records (time, working set) in the timeline.
    nonisolated(unsafe) static var recording = false
    /// With --term-delay, how long the SIGTERM handler takes before it exits: a slow shutdown.
    nonisolated(unsafe) static var termDelay = timespec()

    static func run(_ arguments: [String]) -> Never {
        guard let first = arguments.first else { fail("usage: hog RATE [--threads N] [--chunk MiB] [--stop-at MiB] [--ignore-term] [--term-delay S] [--prefill MiB] [--prefill-rate MB/s] [--pause S] [--timeline PATH --cgroup DIR]") }
        var threads = 1
        var ignoreTerm = false
        var stopAtMiB: Int?
        var prefillMiB = 0
        var prefillRate = 0.0
        var pause = 0.0
        var timeline: String?
        var cgroup: String?
        var index = 1
        while index < arguments.count {
            switch arguments[index] {
            case "--threads": index += 1; threads = Int(arguments[index]) ?? 1
            case "--chunk": index += 1; chunkBytes = (Int(arguments[index]) ?? 1) << 20
            case "--stop-at": index += 1; stopAtMiB = Int(arguments[index])
            case "--ignore-term": ignoreTerm = true
            case "--term-delay":
                index += 1
                let seconds = Double(arguments[index]) ?? 0
                termDelay = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
            case "--prefill": index += 1; prefillMiB = Int(arguments[index]) ?? 0
            case "--prefill-rate": index += 1; prefillRate = (Double(arguments[index]) ?? 0) * 1_000_000
            case "--pause": index += 1; pause = Double(arguments[index]) ?? 0
            case "--timeline": index += 1; timeline = arguments[index]
            case "--cgroup": index += 1; cgroup = arguments[index]
            default: fail("hog: unknown option \(arguments[index])")
            }
            index += 1
        }
        let rate = first == "max" ? 0 : (Double(first) ?? 0) * 1_000_000
        bytesPerSecondPerThread = rate / Double(threads)
        if let stopAtMiB { stopAtChunksPerThread = max(1, (stopAtMiB << 20) / chunkBytes / threads) }
        if let timeline {
            guard lg_timeline_open(timeline, 1 << 16) == 0 else { fail("hog: cannot map \(timeline)") }
        }
        if let cgroup {
            guard lg_timeline_watch_cgroup_v1(cgroup) == 0 else { fail("hog: cannot read \(cgroup)") }
        }
        if ignoreTerm {
            signal(SIGTERM, SIG_IGN)
        } else {
            // Only async-signal-safe calls: write, nanosleep, _exit.
            signal(SIGTERM) { _ in
                lg_timeline_mark_term()
                if Hog.termDelay.tv_sec > 0 || Hog.termDelay.tv_nsec > 0 {
                    _ = "terminating\n".withCString { write(STDOUT_FILENO, $0, 12) }
                    var delay = Hog.termDelay
                    var remaining = timespec()
                    while nanosleep(&delay, &remaining) != 0 { delay = remaining }
                }
                _ = "terminated\n".withCString { write(STDOUT_FILENO, $0, 11) }
                _exit(0)
            }
        }
        say("ready \(getpid())")
        // The prefill reaches the starting point at full speed, by one thread, then the pause lets
        // the guard see a still working set before the measured growth begins.
        if prefillMiB > 0 {
            bytesPerSecondPerThread = prefillRate
            stopAtChunksPerThread = (prefillMiB << 20) / chunkBytes
            allocate()
            bytesPerSecondPerThread = rate / Double(threads)
            stopAtChunksPerThread = stopAtMiB.map { max(1, ($0 << 20) / chunkBytes / threads) } ?? Int.max
        }
        if pause > 0 { sleepSeconds(pause) }
        recording = timeline != nil && cgroup != nil
        var handles: [pthread_t] = []
        for _ in 1..<threads {
            var handle = pthread_t()
            pthread_create(&handle, nil, { _ in Hog.allocate(); return nil }, nil)
            handles.append(handle)
        }
        allocate()
        say("holding")
        while true { sleepSeconds(3600) }
    }

    static func allocate() {
        var next = timespec()
        clock_gettime(CLOCK_MONOTONIC, &next)
        let interval = bytesPerSecondPerThread > 0 ? Double(chunkBytes) / bytesPerSecondPerThread : 0
        var chunks = 0
        while chunks < stopAtChunksPerThread {
            let entry = recording ? lg_timeline_begin() : -1
            touchChunk()
            lg_timeline_end(entry)
            chunks += 1
            if interval > 0 {
                let nanoseconds = next.tv_nsec + Int(interval * 1e9)
                next.tv_sec += nanoseconds / 1_000_000_000
                next.tv_nsec = nanoseconds % 1_000_000_000
                while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nil) == EINTR {}
            }
        }
    }

    static func touchChunk() {
        guard let memory = mmap(nil, chunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else { fail("mmap failed") }
        memset(memory, 1, chunkBytes)
    }
}
