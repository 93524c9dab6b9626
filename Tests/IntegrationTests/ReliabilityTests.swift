import Foundation
import Testing

extension RealSystemTests {
    /// The short version of scripts/reliability: sysbench writing, a client growing the server's memory
    /// until the guard stops it, three times, and numbered commits recorded as they are acknowledged.
    @Suite("Nothing lost across memory-triggered restarts",
           .needs(TestCgroup.available && MariaDB.available && Prerequisites.executable("sysbench") != nil
                  && Prerequisites.pythonModule("pymysql"),
                  "root, a v1 memory cgroup, mariadb-server, sysbench and pymysql"))
    struct ReliabilityTests {
        @Test("3 memory-triggered restarts under sysbench: every acknowledged row kept, no crash recovery, no kernel OOM kill")
        func nothingLost() throws {
            let run = try TestProcess([Prerequisites.repositoryRoot + "/scripts/reliability", "--restarts", "3"],
                                      environment: ["LIFEGUARD_BINARY": Binaries.lifeguard])
            #expect(run.exitCode(timeout: .seconds(600)) == 0, "\(run.stdout)\n\(run.stderr.suffix(3000))")
            #expect(run.stdout.contains("RESULT: nothing lost"))
            #expect(figure("memory-triggered restarts", in: run.stdout) == "3", "\(run.stdout)")
            #expect(figure("acknowledged rows missing afterwards", in: run.stdout) == "0")
            #expect(figure("InnoDB crash recoveries", in: run.stdout) == "0")
            #expect(figure("kernel OOM kills in the cgroup", in: run.stdout) == "0")
            #expect(Int(figure("acknowledged commits (numbered rows)", in: run.stdout) ?? "") ?? 0 > 100)
        }

        /// The first word after a figure's name in the script's table.
        func figure(_ name: String, in output: String) -> String? {
            output.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { $0.dropFirst(name.count).split(separator: " ").first.map(String.init) }
        }
    }
}
