import Foundation
import Glibc
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// One node-exporter textfile directory for a whole host: several containers' metrics files, read
    /// by the Prometheus text-format parser (prometheus_client, from PyPI) as the collector would.
    @Suite("Metrics: one textfile directory for a host's containers",
           .needs(Prerequisites.isRoot && Prerequisites.pythonModule("prometheus_client"), "root (UTS namespaces) and prometheus_client"))
    struct MetricsDirectoryTests {
        /// Every file parses; no series (name and labels) appears twice across files; each family has
        /// one HELP and one TYPE whatever the file; every sample has an instance label.
        static let checker = """
            import glob, sys
            from prometheus_client.parser import text_string_to_metric_families
            seen, families, problems = {}, {}, []
            files = sorted(glob.glob(sys.argv[1] + "/*.prom"))
            for path in files:
                for family in text_string_to_metric_families(open(path).read()):
                    kind = (family.documentation, family.type)
                    if families.setdefault(family.name, kind) != kind:
                        problems.append(f"{family.name}: {kind} in {path}, {families[family.name]} before")
                    for sample in family.samples:
                        key = (sample.name, tuple(sorted(sample.labels.items())))
                        if "instance" not in sample.labels:
                            problems.append(f"{path}: {sample.name} has no instance label")
                        if key in seen:
                            problems.append(f"{key} in {path} and {seen[key]}")
                        seen[key] = path
            print(f"files={len(files)} series={len(seen)} instances={sorted({dict(k[1])['instance'] for k in seen})}")
            for problem in problems:
                print("PROBLEM", problem)
            sys.exit(1 if problems else 0)
            """

        @Test("three containers' files in one directory: every series once, told apart by instance")
        func oneDirectory() throws {
            let directory = "/var/tmp/lifeguard-metrics-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory + "/textfile", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // Three "containers": each its own UTS and PID namespace, hostname and status directory, one
            // shared textfile directory.
            let names = ["db-1", "db-2", "db-3"]
            let running = try names.map { name in
                try TestProcess(["unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
                                 "hostname \"$1\" && exec \"$2\" --status-file \"$3/$1/status.json\" --metrics-file \"$3/textfile/$1.prom\" --status-interval 0.2 -- sleep 60",
                                 "container", name, Binaries.lifeguard, directory])
            }
            let deadline = MonotonicInstant.now() + .seconds(20)
            while MonotonicInstant.now() < deadline,
                  !names.allSatisfy({ FileManager.default.fileExists(atPath: "\(directory)/textfile/\($0).prom") }) {
                usleep(100_000)
            }
            let check = try TestProcess(["python3", "-c", Self.checker, directory + "/textfile"])
            #expect(check.exitCode(timeout: .seconds(60)) == 0, "\(check.stdout)\n\(check.stderr)")
            #expect(check.stdout.contains("files=3 ") && check.stdout.contains("instances=['db-1', 'db-2', 'db-3']"), "\(check.stdout)")
            // Lifeguard is the child of unshare (sh execs it): the stop goes to it.
            for process in running { Supervised.firstChild(of: process.pid).map { _ = kill($0, SIGTERM) } }
            // sleep dies of the forwarded SIGTERM: 128 + 15, like any init.
            for process in running { #expect(process.exitCode(timeout: .seconds(20)) == 143) }
        }

        @Test("the checker is not a rubber stamp: two files of one instance are duplicate series")
        func duplicatesFound() throws {
            let directory = "/var/tmp/lifeguard-metrics-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let text = "# HELP lifeguard_restarts_total Restarts.\n# TYPE lifeguard_restarts_total counter\nlifeguard_restarts_total{instance=\"a\"} 1\n"
            try text.write(toFile: directory + "/one.prom", atomically: true, encoding: .utf8)
            try text.write(toFile: directory + "/two.prom", atomically: true, encoding: .utf8)
            let check = try TestProcess(["python3", "-c", Self.checker, directory])
            #expect(check.exitCode(timeout: .seconds(60)) == 1, "\(check.stdout)")
            #expect(check.stdout.contains("PROBLEM"))
        }
    }
}
