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
            do {
                guard let (pid, status) = try Processes.reapOne() else { return (reaped, false) }
                // A status that is neither an exit nor a death by signal (stopped, continued) is
                // not asked for (no WUNTRACED): nothing to record.
                if let termination = TerminationStatus(waitStatus: status) {
                    reaped.append(ReapedProcess(pid: pid, status: termination))
                }
            } catch {
                // ECHILD: no child at all is left. Any other error (EINVAL cannot happen with these
                // arguments) is taken as "nothing more to reap now"; the next SIGCHLD brings us back.
                return (reaped, error == .noChildren)
            }
        }
    }
}
