import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The processes left when the main child is gone: orphans re-parented to Lifeguard (a daemonized
/// temporary server, a forgotten background job) and their descendants.
public enum ProcessTree {
    /// Signals every process Lifeguard is responsible for, except itself. As PID 1 of a PID namespace
    /// that is `kill(-1)`: atomic, and a process forking at that moment cannot escape. As a subreaper
    /// it is every descendant found in /proc. Returns how many processes were signalled (-1 as PID 1,
    /// where the kernel does not say), or 0 when none remain.
    @discardableResult
    public static func signalRemaining(_ signal: Signal, isInit: Bool, procRoot: String = "/proc") -> Int {
        if isInit {
            // ESRCH: nothing is left to signal; EPERM cannot happen for PID 1's own namespace.
            return (try? Processes.send(signal, to: -1)) == nil ? 0 : -1
        }
        var count = 0
        for pid in descendants(of: Processes.current, procRoot: procRoot) {
            // ESRCH: it exited since /proc was read; nothing to do for it.
            if (try? Processes.send(signal, to: pid)) != nil { count += 1 }
        }
        return count
    }

    /// Every descendant of `ancestor`, from the parent pids in `procRoot/<pid>/stat`.
    public static func descendants(of ancestor: pid_t, procRoot: String = "/proc") -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for (pid, parent) in parentTable(procRoot: procRoot) { children[parent, default: []].append(pid) }
        var result: [pid_t] = []
        var queue = children[ancestor] ?? []
        while let pid = queue.popLast() {
            result.append(pid)
            queue += children[pid] ?? []
        }
        return result
    }

    /// (pid, parent pid) for every process visible in `procRoot`.
    static func parentTable(procRoot: String) -> [(pid_t, pid_t)] {
        guard let names = try? FileSystem.entries(of: procRoot) else { return [] }
        return names.compactMap { name in
            guard let pid = pid_t(name),
                  let stat = try? FileDescriptor.readText(procRoot + "/" + name + "/stat", limit: 4096),
                  let parent = parentPid(fromStat: stat)
            else { return nil }
            return (pid, parent)
        }
    }

    /// Field 4 of /proc/PID/stat. The command name (field 2) may hold spaces and parentheses, so
    /// parsing starts after its last ')'.
    static func parentPid(fromStat stat: String) -> pid_t? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 2 else { return nil }
        return pid_t(fields[1])
    }
}
