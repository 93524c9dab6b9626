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
        /// (VmRSS, RssAnon) in kB of Lifeguard supervising `sleep` in a 256 MiB cgroup, read 7 s after start.
        func settledFigures(asPID1: Bool, readiness: String) throws -> (rss: Int, anonymous: Int) {
            let binary = try #require(Prerequisites.staticBinary)
            let cgroup = try TestCgroup(limit: 256 * TestCgroup.mib)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-footprint-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var command = [binary, "--", "sleep", "1000"]
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
            return (try kilobytes("VmRSS"), try kilobytes("RssAnon"))
        }

        @Test("settled: RSS ≤ 2.5 MB and RssAnon ≤ 512 KB, as PID 1 and not, readiness by notify or also by handshake",
              arguments: [(false, "none"), (true, "none"), (true, "/nonexistent/mysqld.sock")])
        func settled(asPID1: Bool, readiness: String) throws {
            let figures = try settledFigures(asPID1: asPID1, readiness: readiness)
            #expect(figures.rss <= 2560, "VmRSS \(figures.rss) kB")
            #expect(figures.anonymous <= 512, "RssAnon \(figures.anonymous) kB")
        }
    }
}
