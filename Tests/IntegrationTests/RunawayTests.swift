import Foundation
import Testing

extension RealSystemTests {
    /// Issue 14's tiers against a real MariaDB in the article's 256 MiB container, with sysbench
    /// oltp_read_write on four connections and a probe connection throughout (scripts/runaway --check,
    /// bench/runaway.py): a session growing an in-memory temporary table at about 270 MB/s.
    @Suite("A runaway session: the server's limit, then the shed, then the stop",
           .needs(TestCgroup.available && MariaDB.available && Prerequisites.executable("sysbench") != nil
                  && Prerequisites.pythonModule("pymysql"),
                  "root, a v1 memory cgroup, mariadb-server, sysbench and pymysql"))
    struct RunawayTests {
        @Test("limit lifted: the shed kills the statement, nobody else loses anything; rendered limit: the server's own error; MEMORY table: the clean stop")
        func tiers() throws {
            let run = try TestProcess([Prerequisites.repositoryRoot + "/scripts/runaway", "--check", "--seconds", "10"],
                                      environment: ["LIFEGUARD_BINARY": Binaries.lifeguard])
            #expect(run.exitCode(timeout: .seconds(600)) == 0, "\(run.stdout)\n\(run.stderr.suffix(3000))")
            #expect(run.stdout.contains("RESULT: ok"), "\(run.stdout)")
            let graduated = try #require(result("graduated", in: run.stdout), "\(run.stdout)")
            #expect(graduated["shed_kills"] == "1" && graduated["restarts"] == "0" && graduated["oom_kills"] == "0")
            #expect(graduated["dropped"] == "0" && graduated["probe_lost"] == "0" && graduated["sysbench_exit"] == "0")
            let limit = try #require(result("server-limit", in: run.stdout))
            #expect(limit["shed_kills"] == "0" && limit["restarts"] == "0" && limit["oom_kills"] == "0")
            let memoryTable = try #require(result("memory-table", in: run.stdout))
            #expect(memoryTable["memory_stops"] == "1" && memoryTable["oom_kills"] == "0" && memoryTable["crash_recovery"] == "0")
        }

        /// The key=value figures of one contender's RESULT line.
        func result(_ contender: String, in output: String) -> [String: String]? {
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT contender=\(contender) ") }) else { return nil }
            var figures: [String: String] = [:]
            for pair in line.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { figures[String(parts[0])] = String(parts[1]) }
            }
            return figures
        }
    }
}
