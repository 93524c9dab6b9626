import Glibc
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Process values")
struct ProcessValueTests {
    @Test("wait statuses decode like the libc macros")
    func waitStatus() {
        #expect(TerminationStatus(waitStatus: 0) == .exited(0))
        #expect(TerminationStatus(waitStatus: 42 << 8) == .exited(42))
        #expect(TerminationStatus(waitStatus: 255 << 8) == .exited(255))
        #expect(TerminationStatus(waitStatus: SIGTERM) == .signaled(.terminate, coreDumped: false))
        #expect(TerminationStatus(waitStatus: SIGSEGV | 0x80) == .signaled(Signal(rawValue: SIGSEGV), coreDumped: true))
        #expect(TerminationStatus(waitStatus: (SIGSTOP << 8) | 0x7f) == nil)  // stopped
        #expect(TerminationStatus(waitStatus: 0xffff) == nil)  // continued
    }

    @Test("shell exit codes")
    func shellExitCodes() {
        #expect(TerminationStatus.exited(7).shellExitCode == 7)
        #expect(TerminationStatus.signaled(.kill, coreDumped: false).shellExitCode == 137)
        #expect(TerminationStatus.signaled(.terminate, coreDumped: false).shellExitCode == 143)
        #expect(TerminationStatus.signaled(Signal(rawValue: 64), coreDumped: false).shellExitCode == 192)
    }

    @Test("signal names")
    func signalNames() {
        #expect(Signal.terminate.description == "SIGTERM")
        #expect(Signal.realTimeMinimum.description == "SIGRTMIN")
        #expect(Signal(rawValue: Signal.realTimeMinimum.rawValue + 3).description == "SIGRTMIN+3")
        #expect(Signal.realTimeMaximum.description == "SIGRTMAX")
        #expect(Signal(name: "TERM") == .terminate)
        #expect(Signal(name: "sigusr1") == .user1)
        #expect(Signal(name: "9") == .kill)
        #expect(Signal(name: "RTMIN+2") == Signal(rawValue: Signal.realTimeMinimum.rawValue + 2))
        #expect(Signal(name: "NOPE") == nil)
        #expect(Signal(name: "0") == nil)
    }

    @Test("handled signals: everything catchable except faults and glibc's own")
    func handledSignals() {
        let handled = Signal.handled
        #expect(handled.contains(.terminate))
        #expect(handled.contains(.child))
        #expect(handled.contains(Signal.realTimeMaximum))
        #expect(!handled.contains(.kill))
        #expect(!handled.contains(.stop))
        #expect(!handled.contains(Signal(rawValue: SIGSEGV)))
        #expect(!handled.contains(Signal(rawValue: 32)))
        #expect(!handled.contains(Signal(rawValue: 33)))
    }

    @Test("spawn errors map to 127 and 126")
    func spawnErrors() {
        #expect(SpawnError.execFailed(command: "x", Errno(rawValue: ENOENT)).exitCode == 127)
        #expect(SpawnError.execFailed(command: "x", Errno(rawValue: ENOTDIR)).exitCode == 127)
        #expect(SpawnError.execFailed(command: "x", Errno(rawValue: EACCES)).exitCode == 126)
        #expect(SpawnError.execFailed(command: "x", Errno(rawValue: ENOEXEC)).exitCode == 126)
        #expect(SpawnError.forkFailed(Errno(rawValue: EAGAIN)).exitCode == 1)
    }

    @Test("parent pid from /proc/PID/stat, whatever the command name holds")
    func parentFromStat() {
        #expect(ProcessTree.parentPid(fromStat: "42 (mysqld) S 1 42 42 0 -1") == 1)
        #expect(ProcessTree.parentPid(fromStat: "42 (a) b) (c) R 17 42 42") == 17)
        #expect(ProcessTree.parentPid(fromStat: "42 (my sql d) S 9 42") == 9)
        #expect(ProcessTree.parentPid(fromStat: "garbage") == nil)
        #expect(ProcessTree.parentPid(fromStat: "42 (x)") == nil)
    }

    @Test("descendants come from a /proc-like tree")
    func descendants() throws {
        let root = "/tmp/lifeguard-proc-\(getpid())"
        defer { _ = system("rm -rf \(root)") }
        // 10 → 11 → 12, 10 → 13, 20 (unrelated)
        for (pid, parent) in [(10, 1), (11, 10), (12, 11), (13, 10), (20, 1)] {
            mkdir(root, 0o755)
            mkdir("\(root)/\(pid)", 0o755)
            let fd = open("\(root)/\(pid)/stat", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let text = "\(pid) (p \(pid)) S \(parent) 0 0\n"
            _ = write(fd, text, text.utf8.count)
            close(fd)
        }
        mkdir("\(root)/self", 0o755)
        #expect(Set(ProcessTree.descendants(of: 10, procRoot: root)) == [11, 12, 13])
        #expect(ProcessTree.descendants(of: 20, procRoot: root).isEmpty)
    }
}
