import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// One process collected by the reaper.
public struct ReapedProcess: Hashable, Sendable {
    public var pid: pid_t
    public var status: TerminationStatus

    public init(pid: pid_t, status: TerminationStatus) {
        self.pid = pid
        self.status = status
    }
}

/// Collects exited children. Signals coalesce (ten exits may bring one SIGCHLD), so every SIGCHLD
/// leads to a `waitpid(-1, WNOHANG)` loop that runs until nothing more is ready: no exit is missed,
/// the main child's included (catatonit #4), and no timer is needed (tini's 1 s poll is not).
public enum Reaper {
    /// Reaps every child that has exited. Returns the reaped processes and whether no child at all is
    /// left (ECHILD): as PID 1 or a subreaper, that means every descendant is gone.
    public static func reapAvailable() -> (reaped: [ReapedProcess], noChildrenLeft: Bool) {
        var reaped: [ReapedProcess] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 {
                if let termination = TerminationStatus(waitStatus: status) {
                    reaped.append(ReapedProcess(pid: pid, status: termination))
                }
                continue
            }
            if pid == 0 { return (reaped, false) }
            let error = Errno.current
            if error == .interrupted { continue }
            return (reaped, error == .noChildren)
        }
    }
}
