import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem

/// A child of this process's v1 memory cgroup, with a hard limit: a real container-sized memory
/// cgroup, where the kernel OOM killer really fires.
final class TestCgroup: @unchecked Sendable {
    static let mib: UInt64 = 1 << 20

    /// This process's memory cgroup directory, or nil where there is no writable v1 memory hierarchy.
    static var parent: String? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.contains(":memory:") }) else { return nil }
        let path = "/sys/fs/cgroup/memory" + line.split(separator: ":", maxSplits: 2)[2]
        return access(path + "/cgroup.procs", W_OK) == 0 ? path : nil
    }

    static var available: Bool { parent != nil && getuid() == 0 }

    let path: String

    init(limit: UInt64?, softLimit: UInt64? = nil) throws {
        guard let parent = TestCgroup.parent else { throw Errno(rawValue: ENOENT) }
        path = parent + "/lifeguard-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        guard mkdir(path, 0o755) == 0 else { throw Errno.current }
        if let limit { try set("memory.limit_in_bytes", String(limit)) }
        if let softLimit { try set("memory.soft_limit_in_bytes", String(softLimit)) }
    }

    deinit {
        // Kill whatever is left, then remove the cgroup (rmdir fails while it has members).
        for _ in 0..<200 {
            let members = (try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in members.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(10_000)
        }
    }

    func set(_ file: String, _ value: String) throws {
        let fd = try FileDescriptor.open(path + "/" + file, O_WRONLY)
        defer { fd.close() }
        try fd.writeAll(value)
    }

    func read(_ file: String) -> String { (try? String(contentsOfFile: path + "/" + file, encoding: .utf8)) ?? "" }

    /// memory.usage_in_bytes now.
    var usage: UInt64 { UInt64(read("memory.usage_in_bytes").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }

    /// The kernel's OOM-kill counter for this cgroup.
    var oomKills: Int {
        read("memory.oom_control").split(separator: "\n").first { $0.hasPrefix("oom_kill ") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? -1
    }

    /// Starts Lifeguard with `arguments` inside this cgroup; returns the process and Lifeguard's own pid
    /// (under `asContainer`, the child of `unshare`, which ignores SIGTERM itself).
    func startLifeguard(_ arguments: [String], asContainer: Bool = false, environment: [String: String] = [:]) throws
        -> (process: TestProcess, lifeguard: pid_t) {
        let process = try TestProcess(command([Binaries.lifeguard] + arguments, asContainer: asContainer), environment: environment)
        let lifeguard = asContainer ? Supervised.firstChild(of: process.pid) ?? process.pid : process.pid
        return (process, lifeguard)
    }

    /// The argv that runs `arguments` inside this cgroup. `asContainer`: as PID 1 of a new PID namespace
    /// with the memory hierarchy remounted read-only, as in an unprivileged container, where kernel
    /// thresholds cannot be armed and the guard can only poll.
    func command(_ arguments: [String], asContainer: Bool = false) -> [String] {
        var inner = arguments
        if asContainer {
            inner = ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "sh", "-c",
                     "mount -o remount,bind,ro /sys/fs/cgroup/memory && exec \"$@\"", "sh"] + inner
        }
        return ["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", path] + inner
    }
}
