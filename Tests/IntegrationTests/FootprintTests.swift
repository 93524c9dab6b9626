import Foundation
import Glibc
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// The footprint goal on the binary that ships (BENCHMARKS.md, section 1, measures it next to tini
    /// and dumb-init): once start-up is over (`Footprint.settle`, 5 s after start) Lifeguard keeps what
    /// its loop uses. In the suite it runs alone (the real-system suites are serialized): with other
    /// Lifeguards mapping the same binary its RSS counts their shared pages too (section 1b).
    @Suite("Footprint of the static binary", .needs(Prerequisites.staticBinary != nil && TestCgroup.available,
                                                    "the static build (scripts/test), root and a v1 memory cgroup"))
    struct FootprintTests {
        /// VmRSS, RssAnon and VmLck in kB of Lifeguard supervising `sleep` in a 256 MiB cgroup, read 7 s
        /// after start, and its log; `prefix` runs it (under a lower RLIMIT_MEMLOCK, without CAP_IPC_LOCK).
        func settledFigures(asPID1: Bool, readiness: String,
                            prefix: [String] = []) throws -> (rss: Int, anonymous: Int, locked: Int, log: String) {
            let binary = try #require(Prerequisites.staticBinary)
            let cgroup = try TestCgroup(limit: 256 * TestCgroup.mib)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-footprint-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var command = prefix + [binary, "--", "sleep", "1000"]
            if asPID1 { command = ["unshare", "--pid", "--fork", "--mount-proc"] + command }
            let process = try TestProcess(cgroup.command(command), environment: ["LIFEGUARD_STATUS_FILE": directory + "/status.json",
                                                                                 "LIFEGUARD_READY_ADDRESS": readiness])
            defer {
                kill(process.pid, SIGKILL)
                process.wait()
            }
            let lifeguard = asPID1 ? try #require(Supervised.firstChild(of: process.pid)) : process.pid
            usleep(7_000_000)  // settle runs at 5 s; 2 s more of the steady loop
            let status = try String(contentsOfFile: "/proc/\(lifeguard)/status", encoding: .utf8)
            func kilobytes(_ key: String) throws -> Int {
                let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(key + ":") })
                return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
            }
            process.pump()
            return (try kilobytes("VmRSS"), try kilobytes("RssAnon"), try kilobytes("VmLck"), process.stderr)
        }

        @Test("settled: RSS ≤ 2.5 MB and RssAnon ≤ 512 KB, as PID 1 and not, readiness by notify or also by handshake",
              arguments: [(false, "none"), (true, "none"), (true, "/nonexistent/mysqld.sock")])
        func settled(asPID1: Bool, readiness: String) throws {
            let figures = try settledFigures(asPID1: asPID1, readiness: readiness)
            #expect(figures.rss <= 2560, "VmRSS \(figures.rss) kB")
            #expect(figures.anonymous <= 512, "RssAnon \(figures.anonymous) kB")
        }

        /// Docker's default RLIMIT_MEMLOCK is 8 MiB and its root has no CAP_IPC_LOCK: mlockall is refused
        /// (Lifeguard's address space is over 64 MiB, the output thread's malloc arena). Under 8 MiB the
        /// executable's mappings, heap and stack are locked whole as they fault in; under 256 KiB only what
        /// is resident when locking, and the log says the rest is not. RSS stays within the goal either way.
        @Test("RLIMIT_MEMLOCK too small for mlockall and no CAP_IPC_LOCK: locked region by region, within the limit",
              arguments: [8192, 256])
        func lockedWithinLimit(limitKiB: Int) throws {
            let prefix = ["prlimit", "--memlock=\(limitKiB * 1024):\(limitKiB * 1024)",
                          "setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock", "--"]
            let figures = try settledFigures(asPID1: false, readiness: "none", prefix: prefix)
            #expect(figures.locked > 0 && figures.locked <= limitKiB, "VmLck \(figures.locked) kB")
            #expect(figures.rss <= 2560, "VmRSS \(figures.rss) kB")
            #expect(!figures.log.contains("cannot lock"), "\(figures.log)")
            if limitKiB >= 8192 {
                #expect(figures.log.contains("locked region by region"), "\(figures.log)")
                #expect(figures.locked > 4096, "the code alone is more: VmLck \(figures.locked) kB")
            } else {
                #expect(figures.log.contains("allows locking only part of Lifeguard's memory"), "\(figures.log)")
            }
        }
    }
}
