import Foundation
import Glibc
import LifeguardStatus
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// The read farm of examples/kubernetes/replicated.yaml on the real Docker engine, as a pod's
    /// containers would run it: a primary, its clone source (`replica serve`, sharing its volume and
    /// socket), a replica cloned by `replica clone` and started in the primary's network namespace on
    /// another port (no bridge here). The replica's readiness follows its replication, through
    /// Lifeguard's own connection; a memory-triggered restart of the replica resumes replication with
    /// no gap.
    @Suite("A primary and a replica in a real Docker engine", .serialized, .needs(Docker.available, "root, docker.io with a running dockerd, debootstrap"))
    struct DockerReplicationTests {
        static let password = "farm-Root1"
        static let replication = ["-e", "MARIADB_REPLICATION_USER=repl", "-e", "MARIADB_REPLICATION_PASSWORD=repl-Pass1"]

        func status(_ container: Container) -> Status? {
            (try? container.exec(["lifeguard", "status", "--json"])).flatMap { Status(json: $0.stdout) }
        }

        /// Polls the replica's status file until `done` holds (every 250 ms, up to `timeout`).
        func waitForStatus(_ container: Container, timeout: Duration = .seconds(60), _ done: (Status) -> Bool) -> Status? {
            let deadline = MonotonicInstant.now() + timeout
            var last: Status?
            while MonotonicInstant.now() < deadline {
                last = status(container)
                if let last, done(last) { return last }
                usleep(250_000)
            }
            return nil
        }

        func count(_ container: Container, _ query: String) throws -> String {
            try container.sql(query, password: Self.password, database: "shop").output
        }

        @Test("clone, replication, not ready while stopped or lagging and ready after, a memory restart of the replica resumes with no gap")
        func readFarm() throws {
            let image = try Docker.requireImage()
            let socket = "lifeguard-test-\(UUID().uuidString.prefix(8).lowercased())"
            let cloned = socket + "-replica", refused = socket + "-refused"
            defer { for volume in [socket, cloned, refused] { _ = try? Docker.run(["volume", "rm", "-f", volume]) } }
            let primary = try Container(["--hostname", "mysql-0", "-v", "\(socket):/run/mysqld", "-e", "MYSQL_ROOT_PASSWORD=\(Self.password)",
                                         "-e", "MYSQL_DATABASE=shop", "-e", "MYSQL_INITDB_SKIP_TZINFO=1", "-e", "LIFEGUARD_SERVER_ACCOUNT=1"]
                                        + Self.replication, arguments: ["mysqld", "--log-bin=mysql-bin", "--server-id=1"])
            #expect(primary.waitForLog(#"msg="ready: the command said READY=1""#), "\(primary.logs.suffix(3000))")
            #expect(try primary.sql("""
                create table kept (id int primary key, v varchar(200)) engine=innodb;
                insert into kept select seq, repeat('k', 150) from seq_1_to_20000;
                create table w (id int primary key, at datetime(6) not null default now(6)) engine=innodb;
                """, password: Self.password, database: "shop").code == 0)
            let source = try Container(["--volumes-from", primary.name, "-e", "MYSQL_ROOT_PASSWORD=\(Self.password)"] + Self.replication,
                                       arguments: ["replica", "serve"], joining: primary)
            #expect(source.waitForLog("serving clones"), "\(source.logs.suffix(2000))")

            let clone = ["run", "--rm", "--network", "container:\(primary.name)", "-e", "MARIADB_MASTER_HOST=127.0.0.1"]
            // Pod 0 is the primary: nothing to clone. A client without the replication password gets nothing.
            let zero = try Docker.run(clone + ["-e", "HOSTNAME=mysql-0"] + Self.replication + [image, "replica", "clone"])
            #expect(zero.code == 0 && zero.stdout.contains("pod 0 is the primary: nothing to clone"), "\(zero.stdout)\(zero.stderr)")
            let wrong = try Docker.run(clone + ["-v", "\(refused):/var/lib/mysql", "-e", "HOSTNAME=mysql-2", "-e", "MARIADB_REPLICATION_USER=repl",
                                                "-e", "MARIADB_REPLICATION_PASSWORD=guessed", image, "replica", "clone", "--wait", "5"])
            #expect(wrong.code == 1, "\(wrong.stdout)\(wrong.stderr.suffix(2000))")
            #expect(source.logs.contains("refused a clone request"))
            let copied = try Docker.run(clone + ["-v", "\(cloned):/var/lib/mysql", "-e", "HOSTNAME=mysql-1", "-e", "MARIADB_REPLICATION_USER=repl"]
                                        + Self.replication + [image, "replica", "clone"])
            #expect(copied.code == 0 && copied.stdout.contains("replication set from GTID 0-1-"), "\(copied.stdout)\(copied.stderr.suffix(3000))")

            // The article's memory flags on the replica; one-second checks so that the test sees changes quickly.
            let replica = try Container(DockerImageTests.article + ["-v", "\(cloned):/var/lib/mysql", "-e", "LIFEGUARD_SERVER_ACCOUNT=1",
                                                                    "-e", "LIFEGUARD_MAX_REPLICA_LAG=5", "-e", "LIFEGUARD_SERVER_CHECK_INTERVAL=1"],
                                        arguments: ["mysqld", "--port=3308", "--server-id=2", "--log-bin=mysql-bin"], joining: primary)
            let current = waitForStatus(replica) { $0.state == .ready && $0.replication?.state == .current }
            #expect(current != nil, "\(replica.logs.suffix(3000))")
            #expect(!replica.logs.contains("needs an upgrade") && !replica.logs.contains("needs the healthcheck"), "\(replica.logs.suffix(3000))")
            #expect(try count(replica, "select count(*), sum(length(v)) from kept") == "20000\t3000000")
            #expect(try replica.exec(["lifeguard", "probe", "--ready"]).code == 0)

            // Writes flow while the replica is stopped and lags (rows 1-1500), then while it restarts
            // (1501-2500): one every ~10 ms.
            func write(_ first: Int, _ last: Int) throws {
                let writer = "for i in $(seq \(first) \(last)); do echo \"insert into w (id) values ($i); do sleep(0.01);\"; done"
                    + " | mariadb -uroot -p\(Self.password) shop"
                #expect(try Docker.run(["exec", "-d", primary.name, "bash", "-c", writer]).code == 0)
            }
            try write(1, 1500)
            #expect(try replica.sql("stop slave", password: Self.password).code == 0)
            let stopped = waitForStatus(replica, timeout: .seconds(15)) { $0.state == .replicaBehind }
            #expect(stopped?.replication?.reason == "the replica's I/O thread is No", "\(String(describing: stopped?.replication))")
            let probe = try replica.exec(["lifeguard", "probe", "--ready"])
            #expect(probe.code != 0 && probe.stdout.contains("not ready: mysqld is replica_behind: the replica's I/O thread is No"),
                    "\(probe.stdout)\(probe.stderr)")
            #expect(try replica.exec(["lifeguard", "probe", "--live"]).code == 0, "a stopped replica must not be killed")
            #expect(try replica.sql("start slave", password: Self.password).code == 0)
            #expect(waitForStatus(replica, timeout: .seconds(15)) { $0.state == .ready } != nil, "\(replica.logs.suffix(2000))")

            // Lag: a session on the replica holds the table the SQL thread must write, for 10 s.
            #expect(try Docker.run(["exec", "-d", replica.name, "mariadb", "-uroot", "-p\(Self.password)", "shop",
                                    "-e", "lock tables w write; select sleep(10)"]).code == 0)
            let lagging = waitForStatus(replica, timeout: .seconds(20)) { $0.state == .replicaBehind }
            #expect(lagging?.replication?.reason?.hasSuffix("s behind the primary, more than 5 s") == true,
                    "\(String(describing: lagging?.replication)) \(replica.logs.suffix(2000))")
            #expect(waitForStatus(replica, timeout: .seconds(40)) { $0.state == .ready } != nil, "\(replica.logs.suffix(2000))")
            #expect(replica.logs.contains(#"msg="not ready: the replica is not current""#)
                    && replica.logs.contains(#"msg="ready again: the replica is current""#))

            // A memory-triggered stop of the replica (a MEMORY table of its own grows), a restart, and
            // replication resumed from its GTID position: every row, once.
            #expect(try replica.sql("""
                set session sql_log_bin = 0, max_heap_table_size = 1024 * 1024 * 1024; create database scratch;
                create table scratch.m (x varchar(1000)) engine=memory; insert into scratch.m values (repeat('x', 1000));
                """, password: Self.password).code == 0)
            #expect(waitForStatus(primary, timeout: .seconds(60)) { _ in (try? count(primary, "select count(*) from w")) == "1500" } != nil)
            try write(1501, 2500)
            var stoppedByMemory = false
            for _ in 0..<30 where !stoppedByMemory {
                stoppedByMemory = try replica.sql("insert into scratch.m select * from scratch.m", password: Self.password).code != 0
            }
            #expect(stoppedByMemory, "the replica never stopped")
            #expect(replica.waitForLog("memory limit reached: graceful stop"), "\(replica.logs.suffix(3000))")
            #expect(replica.waitForLog(#"msg="ready: the command said READY=1""#, count: 2), "not restarted")
            let finished = waitForStatus(replica, timeout: .seconds(120)) { _ in
                (try? count(primary, "select count(*) from w")) == "2500" && (try? count(replica, "select count(*) from w")) == "2500"
            }
            let rows = (primary: (try? count(primary, "select count(*) from w")) ?? "?", replica: (try? count(replica, "select count(*) from w")) ?? "?")
            #expect(finished != nil, "primary \(rows.primary), replica \(rows.replica)")
            #expect(try count(replica, "select count(*), min(id), max(id) from w") == "2500\t1\t2500", "a gap or a duplicate")
            let checksum = try count(primary, "checksum table w")
            #expect(try count(replica, "checksum table w") == checksum)
            let position = try primary.sql("select @@gtid_binlog_pos", password: Self.password).output
            #expect(try replica.sql("select @@gtid_slave_pos", password: Self.password).output == position)
            let after = try #require(waitForStatus(replica, timeout: .seconds(30)) { $0.state == .ready && $0.replication?.state == .current })
            #expect(after.memoryStops == 1 && after.restarts == 1 && after.memory.kernelOOMKills == 0)
            #expect(replica.inspect("{{.State.OOMKilled}}") == "false")
            #expect(!replica.logs.contains("crash recovery"))
        }
    }
}
