import Foundation
import Testing

extension RealSystemTests {
    /// Page cache is not memory pressure: workloads that fill a 256 MiB container's page cache (a dump,
    /// a big file read, sorts spilling to disk, binary logging under bulk inserts) never stop MariaDB,
    /// and a client querying on one connection throughout never loses it. scripts/false-stops runs
    /// them (bench/false_stops.py) and fails on any stop, kernel OOM kill, lost connection or failed
    /// command, and on a run that proves nothing (usage never reached the trigger).
    @Suite("No false stops: page cache never stops the database", .serialized)
    struct FalseStopTests {
        static let workloads = ["write", "read", "sorts", "binlog", "dump"]

        func check(_ arguments: [String]) throws {
            let run = try TestProcess([Prerequisites.repositoryRoot + "/scripts/false-stops", "--check"] + arguments,
                                      environment: ["LIFEGUARD_BINARY": Binaries.lifeguard])
            let code = run.exitCode(timeout: .seconds(900))
            let results = run.stdout.split(separator: "\n").filter { $0.hasPrefix("RESULT workload=") }
            #expect(code == 0, "\(run.stdout)\n\(run.stderr.suffix(3000))")
            #expect(results.count == Self.workloads.count, "\(run.stdout)")
            for name in Self.workloads {
                let line = results.first { $0.hasPrefix("RESULT workload=\(name) ") }
                #expect(line?.contains(" stops=0 oom_kills=0 shed_kills=0 ") == true && line?.contains(" lost=no error=no ") == true,
                        "\(name): \(line ?? "no result")")
            }
        }

        @Test("on the host: MariaDB under Lifeguard in a 256 MiB v1 cgroup, as in a container",
              .needs(TestCgroup.available && MariaDB.available, "root, a v1 memory cgroup and mariadb-server"))
        func host() throws {
            try check(["--where", "host"])
        }

        /// With Lifeguard's own account, so the shed is on too: it must kill nothing either.
        @Test("in Docker: the image with the article's flags, the datadir a volume, the shed on",
              .needs(Docker.available && MariaDB.available, "docker.io with a running dockerd, the mariadb client"))
        func docker() throws {
            try check(["--where", "docker", "--image", try Docker.requireImage(), "--setting", "LIFEGUARD_SERVER_ACCOUNT=1"])
        }
    }
}
