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
            return kill(-1, signal.rawValue) == 0 ? -1 : 0
        }
        var count = 0
        for pid in descendants(of: getpid(), procRoot: procRoot) where kill(pid, signal.rawValue) == 0 {
            count += 1
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
        guard let directory = opendir(procRoot) else { return [] }
        defer { closedir(directory) }
        var table: [(pid_t, pid_t)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = pid_t(name),
                  let stat = try? FileDescriptor.readText(procRoot + "/" + name + "/stat", limit: 4096),
                  let parent = parentPid(fromStat: stat)
            else { continue }
            table.append((pid, parent))
        }
        return table
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
