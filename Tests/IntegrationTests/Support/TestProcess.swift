import CTestHelperSupport
import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem

/// Where the binaries under test are: next to the test bundle (what `swift build` made), or
/// `LIFEGUARD_BINARY` (the static release binary, as CI builds it).
enum Binaries {
    static let directory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return (executable as NSString).deletingLastPathComponent
    }()

    static var lifeguard: String {
        ProcessInfo.processInfo.environment["LIFEGUARD_BINARY"] ?? directory + "/lifeguard"
    }

    static var helper: String { directory + "/lifeguard-test-helper" }
}

/// How Lifeguard is started in a test.
enum SupervisorMode: String, CaseIterable, CustomStringConvertible, Sendable {
    /// PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`), as in a container.
    case pid1
    /// An ordinary process that registers itself as a child subreaper.
    case subreaper

    var description: String { rawValue }
}

/// A process started for a test, with its stdout and stderr captured.
final class TestProcess: @unchecked Sendable {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32
    /// Output read so far. A background thread drains both pipes as data arrives, so a child never
    /// blocks on a full pipe while the test is busy elsewhere.
    private let output = CapturedOutput()
    var stdout: String { output.text(\.stdout) }
    var stderr: String { output.text(\.stderr) }
    private var consumed = 0
    private(set) var status: TerminationStatus?
    let startedAt = MonotonicInstant.now()

    /// Starts `arguments` with an empty signal mask and every signal at its default action, stdin
    /// from /dev/null, in its own process group (so nothing the test runner gets reaches it).
    init(_ arguments: [String], environment: [String: String] = [:], inheritEnvironment: Bool = true) throws {
        var out: [Int32] = [0, 0]
        var err: [Int32] = [0, 0]
        guard lg_pipe_cloexec(&out) == 0, lg_pipe_cloexec(&err) == 0 else { throw Errno.current }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var env = inheritEnvironment ? ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LIFEGUARD_") } : [:]
        env.merge(environment) { _, new in new }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        close(out[1])
        close(err[1])
        guard result == 0 else {
            close(out[0])
            close(err[0])
            throw Errno(rawValue: result)
        }
        self.pid = pid
        stdoutFD = out[0]
        stderrFD = err[0]
        _ = fcntl(stdoutFD, F_SETFL, fcntl(stdoutFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(stderrFD, F_SETFL, fcntl(stderrFD, F_GETFL) | O_NONBLOCK)
        let (readOut, readErr, output) = (stdoutFD, stderrFD, output)
        let reader = Thread {
            // Until both pipes are at end of file (every writer gone).
            var open = [readOut, readErr]
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !open.isEmpty {
                var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                _ = Glibc.poll(&fds, nfds_t(fds.count), 100)
                for descriptor in fds where descriptor.revents != 0 {
                    let count = read(descriptor.fd, &buffer, buffer.count)
                    if count > 0 {
                        output.append(Array(buffer[0..<count]), toStdout: descriptor.fd == readOut)
                    } else if count == 0 {
                        open.removeAll { $0 == descriptor.fd }
                    }
                }
            }
            output.finish()
        }
        reader.start()
    }

    deinit {
        if status == nil {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
        // The reader thread owns the descriptors until both pipes close; a grandchild may hold them
        // longer, so they are left to it (closing them under it could hit a reused number).
    }

    /// Waits up to `timeout` for more output (the reader thread collects it).
    func pump(waitingUpTo timeout: Duration = .zero) {
        output.waitForMore(timeout: timeout)
    }

    /// The next stdout line not returned yet, waiting up to `timeout`.
    func nextLine(timeout: Duration = .seconds(10)) -> String? {
        let deadline = MonotonicInstant.now() + timeout
        while true {
            let pending = stdout.utf8.dropFirst(consumed)
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                consumed += line.utf8.count + 1
                return line
            }
            if MonotonicInstant.now() >= deadline || status != nil && !hasPendingOutput() { return nil }
            pump(waitingUpTo: .milliseconds(20))
            checkExit()
        }
    }

    private func hasPendingOutput() -> Bool {
        pump()
        return stdout.utf8.dropFirst(consumed).contains(UInt8(ascii: "\n"))
    }

    /// Waits for a stdout line satisfying `predicate`, skipping others.
    func waitForLine(timeout: Duration = .seconds(10), where predicate: (String) -> Bool) -> String? {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            guard let line = nextLine(timeout: deadline - .now()) else { return nil }
            if predicate(line) { return line }
        }
        return nil
    }

    /// Non-blocking check for exit.
    @discardableResult
    func checkExit() -> TerminationStatus? {
        if status != nil { return status }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { status = TerminationStatus(waitStatus: raw) }
        return status
    }

    /// Waits for exit; SIGKILLs the process group and returns nil after `timeout`.
    @discardableResult
    func wait(timeout: Duration = .seconds(30)) -> TerminationStatus? {
        let deadline = MonotonicInstant.now() + timeout
        while checkExit() == nil {
            if MonotonicInstant.now() >= deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                var raw: Int32 = 0
                waitpid(pid, &raw, 0)
                status = TerminationStatus(waitStatus: raw)
                output.waitUntilFinished(timeout: .seconds(1))
                return nil
            }
            pump(waitingUpTo: .milliseconds(5))
        }
        output.waitUntilFinished(timeout: .seconds(1))
        return status
    }

    /// The exit code a shell would report, after waiting.
    func exitCode(timeout: Duration = .seconds(30)) -> Int32? {
        wait(timeout: timeout)?.shellExitCode
    }

    func send(_ signal: Int32) {
        kill(pid, signal)
    }
}

/// stdout and stderr bytes collected by a reader thread.
final class CapturedOutput: @unchecked Sendable {
    struct Bytes {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
    }

    private let condition = NSCondition()
    private var bytes = Bytes()
    private var generation = 0
    private(set) var finished = false

    func append(_ data: [UInt8], toStdout: Bool) {
        condition.lock()
        if toStdout { bytes.stdout += data } else { bytes.stderr += data }
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        finished = true
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    func text(_ keyPath: KeyPath<Bytes, [UInt8]>) -> String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: bytes[keyPath: keyPath], as: UTF8.self)
    }

    /// Waits until both pipes reached end of file, at most `timeout` (a grandchild may keep them open).
    func waitUntilFinished(timeout: Duration) {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout.seconds)
        while !finished, condition.wait(until: deadline) {}
    }

    func waitForMore(timeout: Duration) {
        condition.lock()
        defer { condition.unlock() }
        guard timeout > .zero, !finished else { return }
        let start = generation
        let deadline = Date().addingTimeInterval(timeout.seconds)
        while generation == start, !finished, condition.wait(until: deadline) {}
    }
}

/// Lifeguard started for a test, as PID 1 of a new PID namespace or as a subreaper.
final class Supervised: @unchecked Sendable {
    let process: TestProcess
    let mode: SupervisorMode
    /// Lifeguard's own pid in the test's PID namespace (under unshare, the child of `unshare`).
    let lifeguardPID: pid_t

    init(_ mode: SupervisorMode, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.mode = mode
        switch mode {
        case .pid1:
            process = try TestProcess(["unshare", "--pid", "--fork", "--mount-proc", Binaries.lifeguard] + arguments,
                                      environment: environment)
            lifeguardPID = Supervised.firstChild(of: process.pid) ?? -1
        case .subreaper:
            process = try TestProcess([Binaries.lifeguard] + arguments, environment: environment)
            lifeguardPID = process.pid
        }
    }

    /// The child of `parent`, once it exists (unshare forks Lifeguard right after starting).
    static func firstChild(of parent: pid_t, timeout: Duration = .seconds(5)) -> pid_t? {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            if let text = try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8),
               let first = text.split(separator: " ").first, let pid = pid_t(first) {
                return pid
            }
            usleep(1000)
        }
        return nil
    }

    /// Sends a signal to Lifeguard itself, the way `docker stop` or `docker kill -s` does.
    func send(_ signal: Int32) { kill(lifeguardPID, signal) }

    func nextLine(timeout: Duration = .seconds(10)) -> String? { process.nextLine(timeout: timeout) }
    func exitCode(timeout: Duration = .seconds(30)) -> Int32? { process.exitCode(timeout: timeout) }
    var stderr: String { process.stderr }
}

/// Runs Lifeguard to completion and returns (exit code, stdout, stderr).
func runLifeguard(
    _ mode: SupervisorMode, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)
) throws -> (code: Int32?, stdout: String, stderr: String) {
    let supervised = try Supervised(mode, arguments, environment: environment)
    let code = supervised.exitCode(timeout: timeout)
    return (code, supervised.process.stdout, supervised.process.stderr)
}

func seconds(since start: MonotonicInstant) -> Double { (MonotonicInstant.now() - start).seconds }

let helper = Binaries.helper
