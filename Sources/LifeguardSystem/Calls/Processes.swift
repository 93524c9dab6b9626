import CLifeguard
import Glibc

/// Process calls: signals, waiting, spawning, the subreaper flag.
public enum Processes {
    /// This process's id.
    public static var current: pid_t { getpid() }

    /// Whether this process runs as root (user id 0).
    public static var isRoot: Bool { getuid() == 0 }

    /// gethostname(2): in a container, its hostname (Docker's --hostname or short id, a pod's name);
    /// nil when it cannot be read or is empty.
    public static var hostname: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(cString: buffer)
        return name.isEmpty ? nil : name
    }

    /// kill(2): `signal` to `pid` (negative: a process group; -1: every process this one may signal).
    /// ESRCH means nobody is there any more (it exited and waits to be reaped, or is gone); EPERM
    /// that this process may not signal it. Never EINTR.
    public static func send(_ signal: Signal, to pid: pid_t) throws(Errno) {
        try valueOrErrno(system_kill(pid, signal.rawValue))
    }

    /// waitpid(-1, WNOHANG): a child that has ended, as (pid, wait status); nil when children remain
    /// but none has ended yet. Throws ECHILD when there is no child at all. EINTR is retried.
    public static func reapOne() throws(Errno) -> (pid: pid_t, status: Int32)? {
        var status: Int32 = 0
        let pid = try retryingInterrupts { system_waitpid(-1, &status, WNOHANG) }
        return pid == 0 ? nil : (pid, status)
    }

    /// prctl(PR_SET_CHILD_SUBREAPER): orphans below this process are re-parented to it.
    public static func becomeSubreaper() throws(Errno) {
        try valueOrErrno(lg_set_child_subreaper())
    }

    /// How a spawn ended.
    public enum SpawnResult: Equatable, Sendable {
        case started(pid_t)
        /// pipe(2) or fork(2) failed: no child exists.
        case forkFailed(Errno)
        /// The child could not exec the command (already reaped).
        case execFailed(Errno)
    }

    /// Forks and execs `file` (searched in PATH) with `argv` and `envp` (NULL-terminated), in its own
    /// process group, taking the terminal when there is one, with `childMask` as its signal mask and
    /// the signals in `reset` back to their default action (the fork/exec child path is C: only
    /// async-signal-safe calls between the two). Returns once exec has succeeded or failed.
    public static func spawn(_ file: String, argv: [UnsafeMutablePointer<CChar>?], envp: [UnsafeMutablePointer<CChar>?],
                             childMask: SignalSet, reset: SignalSet) -> SpawnResult {
        var mask = childMask.raw
        var resetRaw = reset.raw
        var pid: pid_t = 0
        var error: Int32 = 0
        let result = argv.withUnsafeBufferPointer { argvBuffer in
            envp.withUnsafeBufferPointer { envpBuffer in
                system_spawn(file, argvBuffer.baseAddress, envpBuffer.baseAddress, &mask, &resetRaw, &pid, &error)
            }
        }
        switch result {
        case LG_SPAWN_OK: return .started(pid)
        case LG_SPAWN_EXEC_FAILED: return .execFailed(Errno(rawValue: error))
        default: return .forkFailed(Errno(rawValue: error))
        }
    }
}
