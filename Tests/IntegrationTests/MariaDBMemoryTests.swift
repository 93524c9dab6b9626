import Foundation
import Glibc
import LifeguardCgroup
import LifeguardImage
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// The article's case with a real MariaDB: a 256 MiB container (hard limit 268435456, reservation
    /// 255013684), a workload that grows mariadbd's memory, and Lifeguard stopping it cleanly first.
    @Suite("MariaDB under the memory guard", .serialized,
           .needs(TestCgroup.available && MariaDB.available, "root, a v1 memory cgroup and mariadb-server"))
    struct MariaDBMemoryTests {
        static let committedRows = 20_000

        /// Starts MariaDB under Lifeguard (as PID 1, cgroupfs read-only) in a 256 MiB cgroup and commits
        /// the rows that must survive.
        func start(_ server: MariaDB, _ cgroup: TestCgroup, lifeguardArguments: [String],
                   serverCommand: [String]? = nil) throws -> (TestProcess, pid_t) {
            let (process, lifeguard) = try cgroup.startLifeguard(["--status-file", server.directory + "/status/status.json",
                                                                  "--status-interval", "0.2"] + lifeguardArguments
                                                                 + (serverCommand ?? server.serverCommand()),
                                                                 asContainer: true)
            #expect(try server.waitUntilReady(), "MariaDB did not start: \(process.stderr)")
            let setup = try server.query("""
                create database t; use t;
                create table kept (id int primary key, note varchar(64)) engine=innodb;
                insert into kept select seq, concat('committed ', seq) from seq_1_to_\(Self.committedRows);
                """)
            #expect(setup.code == 0, "\(setup.error)")
            return (process, lifeguard)
        }

        /// After the memory stop: clean InnoDB shutdown, no kernel OOM kill, then (restarted) no crash
        /// recovery and every committed row.
        func checkCleanStopAndData(_ server: MariaDB, _ cgroup: TestCgroup, _ lifeguard: TestProcess) throws {
            // The client loses its connection when the shutdown begins; the log says when it is over.
            #expect(server.waitForLog("mariadbd: Shutdown complete"), "no clean shutdown: \(server.log)")
            #expect(server.logCount("Shutdown completed; log sequence number") >= 1)
            #expect(lifeguard.stderr.contains("memory limit reached: graceful stop"), "\(lifeguard.stderr)")
            #expect(cgroup.oomKills == 0, "the kernel OOM-killed something")
            #expect(try server.waitUntilReady(), "MariaDB did not come back")
            #expect(server.logCount("crash recovery") == 0, "InnoDB ran crash recovery")
            #expect(try server.query("select count(*), min(id), max(id) from t.kept").output == "\(Self.committedRows)\t1\t\(Self.committedRows)")
        }

        @Test("a MEMORY table doubling: clean shutdown, zero kernel OOM kills, restarted in place with every row")
        func memoryTableDoubling() throws {
            let server = try MariaDB()
            let cgroup = try TestCgroup(limit: 268_435_456, softLimit: 255_013_684)
            let (lifeguard, lifeguardPID) = try start(server, cgroup, lifeguardArguments: ["--grace-period", "60"])
            #expect(try server.query("create table t.m (x varchar(1000)) engine=memory; insert into t.m values (repeat('x', 1000))").code == 0)
            var lost = false
            for _ in 0..<30 where !lost {
                lost = try server.query("insert into t.m select * from t.m").code != 0
            }
            #expect(lost, "the server never stopped")
            // Lifeguard restarted mariadbd in place (LIFEGUARD_ON_MEMORY_LIMIT=restart, the default).
            try checkCleanStopAndData(server, cgroup, lifeguard)
            #expect(lifeguard.stderr.contains(#"msg="restarting the command" delay_s=0 restart=1"#))
            #expect(server.logCount("mariadbd: ready for connections") == 2)
            // The status file tells the story: ready again after one memory stop, no kernel OOM kill.
            let status = try #require(StatusFileTests.waitForState(.ready, in: server.directory + "/status/status.json"))
            #expect(status.memoryStops == 1 && status.restarts == 1)
            #expect(status.memory.kernelOOMKills == 0)
            #expect(status.memory.cgroupVersion == "v1" && status.memory.guardState == "on")
            #expect(status.memory.trigger == 255_652_815 && status.memory.limit == 268_435_456)
            #expect(status.memory.softLimit == 255_012_864)
            // `docker stop`: SIGTERM to Lifeguard, a clean shutdown, exit 0.
            kill(lifeguardPID, SIGTERM)
            #expect(lifeguard.exitCode(timeout: .seconds(90)) == 0)
            #expect(server.logCount("mariadbd: Shutdown complete") == 2)
            #expect(cgroup.oomKills == 0)
        }

        /// The same doubling while a process of the container keeps its page cache full of dirty pages
        /// (a dump or a backup writing next to the server): every byte the MEMORY table takes must first
        /// be written back and reclaimed, and the guard, which sees through the cache, still stops the
        /// server cleanly before the kernel acts.
        @Test("a MEMORY table doubling while a writer keeps the page cache dirty: clean shutdown, zero kernel OOM kills")
        func memoryTableDoublingWithDirtyCache() throws {
            let server = try MariaDB()
            let cgroup = try TestCgroup(limit: 268_435_456, softLimit: 255_013_684)
            let (lifeguard, _) = try start(server, cgroup, lifeguardArguments: ["--on-memory-limit", "exit"])
            let loop = "while :; do dd if=/dev/zero of=\"$0\" bs=1M count=512 conv=notrunc 2>/dev/null; done"
            let writer = try TestProcess(cgroup.command(["sh", "-c", loop, server.directory + "/writer.bin"]))
            defer {
                kill(-writer.pid, SIGKILL)
                writer.wait()
            }
            let deadline = MonotonicInstant.now() + .seconds(10)
            while cgroup.usage < 268_435_456 * 9 / 10, MonotonicInstant.now() < deadline { usleep(10_000) }
            #expect(cgroup.usage >= 268_435_456 * 9 / 10, "the writer did not fill the cache")
            #expect(try server.query("create table t.m (x varchar(1000)) engine=memory; insert into t.m values (repeat('x', 1000))").code == 0)
            var lost = false
            for _ in 0..<30 where !lost {
                lost = try server.query("insert into t.m select * from t.m").code != 0
            }
            #expect(lost, "the server never stopped")
            #expect(lifeguard.exitCode(timeout: .seconds(120)) == 75, "\(lifeguard.stderr)")
            #expect(server.logCount("mariadbd: Shutdown complete") == 1, "no clean shutdown: \(server.log.suffix(2000))")
            #expect(lifeguard.stderr.contains("memory limit reached: graceful stop"))
            #expect(cgroup.oomKills == 0, "the kernel OOM-killed something")
        }

        /// Eight clients each grouping 200,000 rows in an in-memory temporary table (about 170 MB of
        /// anonymous memory each): without a guard the kernel OOM-kills mariadbd (2 runs of 2 here).
        /// (Eight big sorts, which this test used to run, spill to temporary files: page cache, which
        /// the kernel reclaims; without a guard they finish, so they are a false-stop test now.)
        @Test("in-memory temporary tables on many connections: clean shutdown before the kernel acts")
        func temporaryTablesOnManyConnections() throws {
            let server = try MariaDB()
            let cgroup = try TestCgroup(limit: 268_435_456, softLimit: 255_013_684)
            let (lifeguard, _) = try start(server, cgroup, lifeguardArguments: ["--on-memory-limit", "exit"])
            let load = try server.query("""
                create table t.big (id int primary key, a int, b int, v char(200)) engine=innodb;
                insert into t.big select seq, seq % 1000, (seq * 7) % 1000, repeat('v', 200) from seq_1_to_200000;
                """, database: "t")
            #expect(load.code == 0, "\(load.error) \(lifeguard.stderr)")
            var clients: [TestProcess] = []
            for _ in 0..<8 {
                clients.append(try TestProcess(["mariadb", "-S", server.socket, "-uroot", "t", "-e",
                    "set session tmp_table_size = 1024 * 1024 * 1024, max_heap_table_size = 1024 * 1024 * 1024; "
                    + "select concat(id, v) k, count(*) from big group by k"]))
            }
            #expect(lifeguard.exitCode(timeout: .seconds(120)) == 75)
            for client in clients { client.wait(timeout: .seconds(30)) }
            #expect(cgroup.oomKills == 0)
            #expect(server.logCount("mariadbd: Shutdown complete") == 1)
            #expect(lifeguard.stderr.contains("memory limit reached: graceful stop"))
            // Start it again (as `--restart on-failure` would) and check the data.
            let (again, againPID) = try cgroup.startLifeguard(server.serverCommand(), asContainer: true)
            #expect(try server.waitUntilReady())
            #expect(server.logCount("crash recovery") == 0)
            #expect(try server.query("select count(*) from t.kept").output == String(Self.committedRows))
            kill(againPID, SIGTERM)
            #expect(again.exitCode(timeout: .seconds(90)) == 0)
        }

        /// The first tier: the server limits each session itself (the rendered `max_session_mem_used`).
        /// One statement with a 1.5-million-value IN list (10.9 MB, under the 16 MiB packet) took
        /// MariaDB 10.11 from 154 to 500 MiB here: in the article's container it is a memory stop, every
        /// connection dropped. Under the rendered limit it fails alone (ER 1290) and nothing else happens.
        @Test("the rendered session limit: a runaway statement fails alone, no stop; with the limit lifted, the same statement is a memory stop",
              arguments: [true, false])
        func sessionLimit(rendered: Bool) throws {
            let server = try MariaDB()
            let cgroup = try TestCgroup(limit: 268_435_456, softLimit: 255_013_684)
            let template = try String(contentsOfFile: Prerequisites.repositoryRoot + "/my.cnf.template", encoding: .utf8)
            let offer = Headroom.percent(5).trigger(forHardLimit: 268_435_456)
            let settings = ConfigTemplate.render(template, variables: MySQLSizing(offer: offer).variables(for: .mariadb), userKeys: [], overrides: [:])
            let defaults = server.directory + "/mysqld.cnf"
            try settings.write(toFile: defaults, atomically: true, encoding: .utf8)
            // The user's own setting, as an argument, wins over the rendered one (as in the image).
            let lifted = rendered ? [] : ["--max-session-mem-used=9223372036854775807"]
            let (lifeguard, _) = try start(server, cgroup, lifeguardArguments: ["--on-memory-limit", "exit"],
                                           serverCommand: server.serverCommand(lifted, defaultsFile: defaults))
            #expect(try server.query("select @@max_session_mem_used").output == (rendered ? "67108864" : "9223372036854775807"))
            let statement = server.directory + "/in-list.sql"
            try ("select count(*) from t.kept where id in (" + (0..<1_500_000).map(String.init).joined(separator: ",") + ");\n")
                .write(toFile: statement, atomically: true, encoding: .utf8)
            // (The client's `source` reports an error on stderr but exits 0.)
            let runaway = try server.query("source \(statement)", maxAllowedPacket: "64M")
            if rendered {
                #expect(runaway.error.contains("max-session-mem-used"), "\(runaway.error)")
                #expect(try server.query("select count(*) from t.kept").output == String(Self.committedRows))
                let status = try #require(StatusFileTests.waitForState(.ready, in: server.directory + "/status/status.json"))
                #expect(status.memoryStops == 0 && status.restarts == 0)
                #expect(!lifeguard.stderr.contains("memory limit reached"), "\(lifeguard.stderr)")
            } else {
                #expect(lifeguard.exitCode(timeout: .seconds(120)) == 75, "\(lifeguard.stderr)")
                #expect(lifeguard.stderr.contains("memory limit reached: graceful stop"))
            }
            #expect(cgroup.oomKills == 0)
        }
    }
}
