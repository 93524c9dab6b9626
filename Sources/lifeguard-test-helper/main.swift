// Programs the integration tests run under Lifeguard, in the spirit of dumb-init's print_signals.py
// and tini's test stages. Each subcommand prints what it observed, one line at a time, unbuffered.
import CTestHelperSupport
import Glibc

var arguments = Array(CommandLine.arguments.dropFirst())
guard !arguments.isEmpty else { fail("usage: lifeguard-test-helper SUBCOMMAND [ARG...]") }
let subcommand = arguments.removeFirst()

switch subcommand {
case "print-signals":
    // print-signals [TERMS]: prints "signal N" for every signal received; dies of the TERMS-th SIGTERM
    // (default 1, so the exit is 143) after printing it.
    let termsToDie = Int(arguments.first ?? "1") ?? 1
    var terms = 0
    var set = waitableSignals()
    sigprocmask(SIG_BLOCK, &set, nil)
    say("ready \(getpid())")
    while true {
        let number = sigwaitinfo(&set, nil)
        if number < 0 { continue }
        say("signal \(number)")
        if number == SIGTERM { terms += 1 }
        if number == SIGTERM && terms >= termsToDie {
            var term = sigset_t()
            sigemptyset(&term)
            sigaddset(&term, SIGTERM)
            signal(SIGTERM, SIG_DFL)
            sigprocmask(SIG_UNBLOCK, &term, nil)  // the pending SIGTERM was consumed: raise it again
            raise(SIGTERM)
            sleepSeconds(5)
            fail("still alive after SIGTERM")
        }
    }

case "exec-with-sigstate":
    // exec-with-sigstate IGNORED BLOCKED COMMAND...: resets every signal to its default action, ignores
    // and blocks the comma-separated signal numbers ("-" for none), then execs COMMAND, which
    // inherits exactly that state.
    guard arguments.count >= 3 else { fail("usage: exec-with-sigstate IGNORED BLOCKED COMMAND...") }
    lg_reset_all_signal_actions()
    let numbers = { (text: String) in text.split(separator: ",").compactMap { Int32($0) } }
    for number in numbers(arguments[0]) { signal(number, SIG_IGN) }
    var blocked = sigset_t()
    sigemptyset(&blocked)
    for number in numbers(arguments[1]) { sigaddset(&blocked, number) }
    sigprocmask(SIG_SETMASK, &blocked, nil)
    let command = Array(arguments.dropFirst(2))
    let argv = command.map { strdup($0) } + [nil]
    execvp(command[0], argv)
    fail("exec \(command[0]) failed")

case "hog":
    // hog RATE [--threads N] [--chunk MiB] [--stop-at MiB] [--ignore-term]: allocates and touches memory
    // at RATE MB/s ("max": as fast as possible) split over N threads, in chunks (mmap + memset).
    // On SIGTERM it says so and exits 0 (after --term-delay S: a slow shutdown), unless --ignore-term;
    // --stop-at holds the size once reached.
    // --prefill MiB first (at --prefill-rate MB/s, default full speed), then --pause S; --timeline PATH --cgroup DIR (v1) record, for
    // bench/, the working set after each later chunk and the moment SIGTERM arrived.
    Hog.run(arguments)

case "container-cgroupns":
    // container-cgroupns COMMAND...: runs COMMAND in a private cgroup namespace with cgroup2 mounted
    // read-only at /sys/fs/cgroup, the layout Docker gives a container on cgroup v2.
    guard lg_test_enter_container_cgroup_namespace() == 0 else { fail("cannot enter a cgroup namespace: \(errno)") }
    let argv = arguments.map { strdup($0) } + [nil]
    execvp(arguments[0], argv)
    fail("exec \(arguments[0]) failed")

case "notify-server":
    // notify-server READY_AFTER STOP_TIME: says READY=1 (with a STATUS) after READY_AFTER seconds; on
    // SIGTERM says STOPPING=1, takes STOP_TIME seconds to "shut down", and exits 0.
    let readyAfter = Double(arguments.first ?? "0.5") ?? 0.5
    let stopTime = Double(arguments.dropFirst().first ?? "1") ?? 1
    var term = sigset_t()
    sigemptyset(&term)
    sigaddset(&term, SIGTERM)
    sigprocmask(SIG_BLOCK, &term, nil)
    say("ready \(getpid())")
    sleepSeconds(readyAfter)
    sendNotify("READY=1\nSTATUS=Taking requests")
    var received: Int32 = 0
    sigwait(&term, &received)
    sendNotify("STOPPING=1\nSTATUS=Shutdown in progress")
    sleepSeconds(stopTime)
    exit(0)

case "notify-send":
    // notify-send MESSAGE: sends one datagram to NOTIFY_SOCKET, then exits 0 (or sleeps SECONDS first).
    sendNotify(arguments.first ?? "READY=1")
    if arguments.count > 1 { sleepSeconds(Double(arguments[1]) ?? 0) }

case "restart-once":
    // restart-once MARKER: prints MYSQLD_PARENT_PID and its parent pid; exits 16 (MySQL's RESTART) the
    // first time (no MARKER yet), 0 the next.
    let marker = arguments.first ?? "/tmp/restart-once"
    let parent = getenv("MYSQLD_PARENT_PID").map { String(cString: $0) } ?? "unset"
    say("MYSQLD_PARENT_PID=\(parent) ppid=\(getppid())")
    if access(marker, F_OK) != 0 {
        close(open(marker, O_WRONLY | O_CREAT, 0o644))
        exit(16)
    }
    exit(0)

case "exit":
    exit(Int32(arguments.first ?? "0") ?? 0)

case "signal-self":
    // Dies of the given signal with its default action.
    let number = Int32(arguments.first ?? "") ?? SIGTERM
    signal(number, SIG_DFL)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, number)
    sigprocmask(SIG_UNBLOCK, &set, nil)
    raise(number)
    sleepSeconds(5)
    fail("survived signal \(number)")

case "sigstate":
    // The child's signal state as the kernel sees it.
    guard let file = fopen("/proc/self/status", "r") else { fail("cannot read /proc/self/status") }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, 512, file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("SigBlk") || text.hasPrefix("SigIgn") || text.hasPrefix("SigCgt") {
            say(String(text.dropLast()))
        }
    }
    fclose(file)

case "ignore-term":
    // Ignores SIGTERM: only SIGKILL ends it.
    signal(SIGTERM, SIG_IGN)
    say("ready \(getpid())")
    while true { sleepSeconds(3600) }

case "sleep":
    sleepSeconds(Double(arguments.first ?? "3600") ?? 3600)

case "orphans":
    // orphans COUNT LIFETIME WAIT: leaves COUNT orphans that exit after LIFETIME seconds, waits WAIT
    // seconds, then prints how many of Lifeguard's children are zombies and exits 0.
    let count = Int(arguments.first ?? "100") ?? 100
    let lifetime = Double(arguments.dropFirst().first ?? "0.2") ?? 0.2
    let wait = Double(arguments.dropFirst(2).first ?? "1.5") ?? 1.5
    let supervisor = getppid()
    for _ in 0..<count {
        let middle = lg_fork()
        if middle == 0 {
            if lg_fork() == 0 {
                sleepSeconds(lifetime)
                _exit(0)
            }
            _exit(0)  // the grandchild is now an orphan: re-parented to Lifeguard
        }
        var status: Int32 = 0
        waitpid(middle, &status, 0)
    }
    say("orphans \(count)")
    sleepSeconds(wait)
    var zombies = 0
    var children = 0
    if let directory = opendir("/proc") {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(name) != nil, let file = fopen("/proc/\(name)/stat", "r") else { continue }
            var buffer = [CChar](repeating: 0, count: 1024)
            if fgets(&buffer, 1024, file) != nil {
                let stat = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if let close = stat.lastIndex(of: ")") {
                    let fields = stat[stat.index(after: close)...].split(separator: " ")
                    if fields.count > 2, Int32(fields[1]) == supervisor, Int32(name) != getpid() {
                        children += 1
                        if fields[0] == "Z" { zombies += 1 }
                    }
                }
            }
            fclose(file)
        }
        closedir(directory)
    }
    say("zombies \(zombies) children \(children)")

case "orphan-with-handler":
    // orphan-with-handler MARKER DELAY CODE: starts a grandchild that, on SIGTERM, works for DELAY
    // seconds and then writes MARKER; exits with CODE as soon as the grandchild is ready.
    guard arguments.count >= 3, let delay = Double(arguments[1]), let code = Int32(arguments[2]) else {
        fail("usage: orphan-with-handler MARKER DELAY CODE")
    }
    let marker = arguments[0]
    var ready: [Int32] = [0, 0]
    pipe(&ready)
    if lg_fork() == 0 {
        var term = sigset_t()
        sigemptyset(&term)
        sigaddset(&term, SIGTERM)
        sigprocmask(SIG_BLOCK, &term, nil)
        close(ready[0])
        _ = write(ready[1], "r", 1)
        close(ready[1])
        var received: Int32 = 0
        sigwait(&term, &received)
        sleepSeconds(delay)  // the "flush" a database does on SIGTERM
        let fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = write(fd, "clean\n", 6)
        close(fd)
        _exit(0)
    }
    close(ready[1])
    var byte: UInt8 = 0
    _ = read(ready[0], &byte, 1)
    say("grandchild ready")
    exit(code)

default:
    fail("unknown subcommand \(subcommand)")
}
