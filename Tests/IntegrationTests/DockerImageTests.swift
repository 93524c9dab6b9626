import Foundation
import Glibc
import LifeguardCgroup
import LifeguardImage
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// The image on a real Docker engine: the Dockerfile built from the local MariaDB base (no registry
    /// here) with the prebuilt static Lifeguard, containers on `--network none`.
    @Suite("The MySQL image in a real Docker engine", .serialized, .needs(Docker.available, "root, docker.io with a running dockerd, debootstrap"))
    struct DockerImageTests {
        static let password = #"s3cr"et\pass'word"#
        static let article = ["--memory", "268435456", "--memory-reservation", "255013684", "--stop-timeout", "75"]

        func temporaryDirectory() throws -> String {
            let path = "/var/tmp/lifeguard-docker-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }

        @Test("a: first start: root password, database, user, initdb.d scripts; healthy")
        func firstStart() throws {
            let initdb = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: initdb) }
            try "create table items (id int primary key, name varchar(20)) engine=innodb;\n"
                .write(toFile: initdb + "/01-schema.sql", atomically: true, encoding: .utf8)
            try #"docker_process_sql --database="$MYSQL_DATABASE" <<<"insert into items values (1, 'sourced')""#
                .write(toFile: initdb + "/02-sourced.sh", atomically: true, encoding: .utf8)
            try "#!/bin/sh\necho \"executed as $(id -un)\" > /var/lib/mysql/initdb-executed\n"
                .write(toFile: initdb + "/03-executed.sh", atomically: true, encoding: .utf8)
            chmod(initdb + "/03-executed.sh", 0o755)
            #expect(try TestProcess(["sh", "-c", "echo \"insert into items values (2, 'gzipped');\" | gzip > \(initdb)/04-data.sql.gz"]).exitCode() == 0)
            try "ignored".write(toFile: initdb + "/05-notes.txt", atomically: true, encoding: .utf8)
            let container = try Container(["-e", "MYSQL_ROOT_PASSWORD=\(Self.password)", "-e", "MYSQL_DATABASE=shop",
                                           "-e", "MYSQL_USER=app", "-e", "MYSQL_PASSWORD=apppass",
                                           "-v", "\(initdb):/docker-entrypoint-initdb.d:ro", "--health-interval", "1s"])
            #expect(container.waitForHealth(), "\(container.logs.suffix(3000))")
            #expect(try container.sql("select id, name from items order by id", user: "app", password: "apppass", database: "shop").output
                    == "1\tsourced\n2\tgzipped")
            #expect(try container.exec(["cat", "/var/lib/mysql/initdb-executed"]).stdout == "executed as mysql\n")
            #expect(try container.sql("select count(*) from mysql.time_zone_name", password: Self.password).output != "0", "tzinfo loaded")
            #expect(try container.sql("select user, host from mysql.user where user = 'root' order by host", password: Self.password).output
                    == "root\t%\nroot\tlocalhost")
            #expect(try container.sql("select 1", password: "wrong").code != 0)
            let logs = container.logs
            #expect(logs.contains("skipping /docker-entrypoint-initdb.d/05-notes.txt"))
            #expect(!logs.contains(Self.password), "the password is in the logs")
            #expect(try container.exec(["lifeguard", "probe", "--ready"]).code == 0)
            // Off by default: no account, no connection attempt.
            #expect(!logs.contains("own connection"))
            #expect(try container.sql("select count(*) from mysql.user where user = 'lifeguard'", password: Self.password).output == "0")
        }

        /// The whole of issue 14 in the image, with the article's flags: the account, the connection by
        /// unix_socket (Lifeguard becomes the OS user `lifeguard` for the connect), one more
        /// max_connections for it, and the shed killing a runaway statement (the user lifted the
        /// session limit) with no restart.
        @Test("LIFEGUARD_SERVER_ACCOUNT=1: lifeguard@localhost by unix_socket, PROCESS, CONNECTION ADMIN and SLAVE MONITOR, its own max_connections slot; a runaway statement is shed, no restart")
        func serverAccount() throws {
            let container = try Container(Self.article + ["-e", "MYSQL_ROOT_PASSWORD=\(Self.password)", "-e", "MYSQL_INITDB_SKIP_TZINFO=1",
                                                          "-e", "LIFEGUARD_SERVER_ACCOUNT=1"],
                                          arguments: ["mysqld", "--max-session-mem-used=9223372036854775807"])
            #expect(container.waitForLog("Lifeguard's own connection to the server works"), "\(container.logs.suffix(3000))")
            #expect(try container.sql("show grants for lifeguard@localhost", password: Self.password).output
                    == "GRANT PROCESS, CONNECTION ADMIN, SLAVE MONITOR ON *.* TO `lifeguard`@`localhost` IDENTIFIED VIA unix_socket")
            // 20 for the applications, as without the account, and one for Lifeguard.
            #expect(try container.sql("select @@max_connections", password: Self.password).output == "21")
            // No password works for anyone else: root's OS identity is not the account's.
            #expect(try container.exec(["mariadb", "-ulifeguard", "-e", "select 1"]).code != 0)
            #expect(!container.logs.contains("does not work"))
            let runaway = try container.sql("""
                set session tmp_memory_table_size = 1024 * 1024 * 1024, max_heap_table_size = 1024 * 1024 * 1024;
                select count(*) from (select seq, repeat('x', 200) as r from seq_1_to_3000000 group by seq, r) as t
                """, password: Self.password, database: "mysql")
            #expect(runaway.output.contains("Query execution was interrupted"), "\(runaway.output)")
            #expect(container.logs.contains(#"msg="shed: killed the statement of the connection holding the most memory" kill="KILL QUERY""#),
                    "\(container.logs.suffix(3000))")
            #expect(container.waitForLog("memory back below the shed level"))
            let parsed = try #require(Status(json: try container.exec(["lifeguard", "status", "--json"]).stdout))
            #expect(parsed.shedKills == 1 && parsed.memoryStops == 0 && parsed.restarts == 0 && parsed.memory.kernelOOMKills == 0)
            #expect(parsed.state == .ready && parsed.lastEvent?.reason == "shed")
            #expect(container.inspect("{{.State.OOMKilled}}") == "false")
        }

        @Test("b: the article's run: a memory-growing workload, a clean stop, OOMKilled false, the data intact")
        func articleRun() throws {
            let container = try Container(Self.article + ["-e", "MYSQL_ROOT_PASSWORD=\(Self.password)", "-e", "MYSQL_DATABASE=shop",
                                                          "-e", "MYSQL_INITDB_SKIP_TZINFO=1", "--health-interval", "1s"])
            #expect(container.waitForHealth(), "\(container.logs.suffix(3000))")
            // Docker's RLIMIT_MEMLOCK (8 MiB) refuses mlockall: Lifeguard's code and data must be locked
            // region by region, or the kernel evicts them as the container fills and the guard refaults
            // its own code when it must act (the kernel OOM killer won 1 run in 6 that way).
            let locked = try container.exec(["sh", "-c", "sed -n 's/^VmLck:[[:space:]]*\\([0-9]*\\) kB$/\\1/p' /proc/1/status"])
            #expect((Int(locked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 4096, "VmLck: \(locked.stdout)")
            #expect(try container.sql("""
                create table kept (id int primary key) engine=innodb; insert into kept select seq from seq_1_to_20000;
                set session max_heap_table_size = 1024 * 1024 * 1024;
                create table m (x varchar(1000)) engine=memory; insert into m values (repeat('x', 1000));
                """, password: Self.password, database: "shop").code == 0)
            var lost = false
            for _ in 0..<30 where !lost {
                lost = try container.sql("insert into m select * from m", password: Self.password, database: "shop").code != 0
            }
            #expect(lost, "the server never stopped")
            #expect(container.waitForLog("mysqld: Shutdown complete"), "no clean shutdown")
            #expect(container.waitForLog(#"msg="ready: the command said READY=1""#, count: 2), "not restarted")
            #expect(container.logs.contains("memory limit reached: graceful stop"))
            #expect(!container.logs.contains("crash recovery"))
            #expect(container.inspect("{{.State.OOMKilled}}") == "false")
            #expect(container.inspect("{{.State.Running}}") == "true")
            #expect(try container.sql("select count(*) from kept", password: Self.password, database: "shop").output == "20000")
            let status = try container.exec(["lifeguard", "status", "--json"])
            let parsed = try #require(Status(json: status.stdout))
            #expect(parsed.memoryStops == 1 && parsed.restarts == 1 && parsed.memory.kernelOOMKills == 0)
            #expect(parsed.memory.limit == 268_435_456 && parsed.memory.trigger == 255_652_815)
            #expect(container.waitForHealth())
        }

        @Test("c and e: docker stop is a clean shutdown and exit 0; a second start skips initialisation")
        func stopAndRestart() throws {
            let data = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            chmod(data, 0o777)
            let options = ["-e", "MYSQL_ROOT_PASSWORD=\(Self.password)", "-e", "MYSQL_INITDB_SKIP_TZINFO=1", "-v", "\(data):/var/lib/mysql",
                           "--stop-timeout", "75"]
            let first = try Container(options)
            #expect(first.waitForLog(#"msg="ready: the command said READY=1""#), "\(first.logs.suffix(2000))")
            #expect(try first.sql("create database kept; create table kept.t (id int) engine=innodb; insert into kept.t values (42)",
                                  password: Self.password).code == 0)
            let stop = try Docker.run(["stop", first.name])
            #expect(stop.code == 0)
            #expect(first.inspect("{{.State.ExitCode}}") == "0")
            #expect(first.logs.contains("mysqld: Shutdown complete"))
            #expect(first.logs.contains(#"msg="graceful stop: SIGTERM sent""#))
            // e: the same datadir, a new container: no initialisation, the data is there, no crash recovery.
            let second = try Container(options)
            #expect(second.waitForLog(#"msg="ready: the command said READY=1""#), "\(second.logs.suffix(2000))")
            #expect(second.logs.contains("holds a database: skipping initialisation"))
            #expect(!second.logs.contains("initialising"))
            #expect(!second.logs.contains("crash recovery"))
            #expect(try second.sql("select id from kept.t", password: Self.password).output == "42")
        }

        @Test("d: --user 1000:1000")
        func arbitraryUser() throws {
            let container = try Container(["--user", "1000:1000", "-e", "MYSQL_ROOT_PASSWORD=\(Self.password)", "-e", "MYSQL_INITDB_SKIP_TZINFO=1"])
            #expect(container.waitForLog(#"msg="ready: the command said READY=1""#), "\(container.logs.suffix(3000))")
            #expect(try container.exec(["stat", "-c", "%u", "/var/lib/mysql/ibdata1"]).stdout == "1000\n")
            let server = try container.exec(["sh", "-c", "grep Uid /proc/$(cat /proc/1/task/1/children | cut -d' ' -f1)/status"])
            #expect(server.stdout.hasPrefix("Uid:\t1000"), "\(server.stdout)")
            #expect(try container.sql("select 1", password: Self.password).output == "1")
        }

        /// A read-only root filesystem: Lifeguard's status and the rendered settings go to a tmpfs on /run
        /// (as root), or on /run/lifeguard and /run/mysqld (as any user: the image makes them 1777, and
        /// Docker gives a tmpfs the mode of the directory it covers). Sized from the offer either way.
        /// As the server's user it is the Kubernetes manifests' securityContext: no capability, no
        /// privilege escalation, the default seccomp profile; Lifeguard's own connection then logs in
        /// as that user (mysql@localhost), which the entrypoint made the account for.
        @Test("--read-only with a tmpfs on /run as root; as the server's user with every capability dropped (the pods' securityContext): healthy, sized from the offer, Lifeguard's connection works",
              arguments: [false, true])
        func readOnlyRootFilesystem(asUser: Bool) throws {
            let mounts = asUser ? ["--user", "mysql", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                                   "--tmpfs", "/run/lifeguard", "--tmpfs", "/run/mysqld", "-e", "LIFEGUARD_SERVER_ACCOUNT=1"]
                : ["--tmpfs", "/run"]
            let container = try Container(Self.article + ["--read-only", "--tmpfs", "/tmp", "--health-interval", "1s",
                                                          "-e", "MYSQL_ROOT_PASSWORD=\(Self.password)", "-e", "MYSQL_INITDB_SKIP_TZINFO=1"] + mounts)
            #expect(container.waitForHealth(), "\(container.logs.suffix(3000))")
            #expect(!container.logs.contains("could not render the server settings"), "\(container.logs.suffix(3000))")
            // The article's container: offer 243.8 MiB, a pool of 89 MiB and 20 connections (and one for
            // Lifeguard's own account when it has one).
            let sizing = MySQLSizing(offer: Headroom.percent(5).trigger(forHardLimit: 268_435_456))
            #expect(try container.sql("select @@innodb_buffer_pool_size, @@max_connections", password: Self.password).output
                    == "\(sizing.bufferPoolSize)\t\(sizing.maxConnections + (asUser ? 1 : 0))")
            #expect(try container.exec(["touch", "/etc/written"]).code != 0, "the root filesystem is writable")
            if asUser {
                #expect(container.waitForLog("Lifeguard's own connection to the server works\" account=mysql@localhost"),
                        "\(container.logs.suffix(3000))")
                #expect(try container.exec(["grep", "CapEff", "/proc/1/status"]).stdout.contains("0000000000000000"))
            }
        }

        @Test("the rest of the official contract: _FILE secrets, a random root password, mysqld arguments, --version, other commands")
        func officialContract() throws {
            let secrets = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: secrets) }
            try "from-a-file\n".write(toFile: secrets + "/root", atomically: true, encoding: .utf8)
            let fromFile = try Container(Self.article + ["-e", "MYSQL_ROOT_PASSWORD_FILE=/secrets/root", "-e", "MYSQL_INITDB_SKIP_TZINFO=1",
                                                         "-v", "\(secrets):/secrets:ro"], arguments: ["--max-connections=77"])
            #expect(fromFile.waitForLog(#"msg="ready: the command said READY=1""#), "\(fromFile.logs.suffix(3000))")
            #expect(try fromFile.sql("select @@max_connections", password: "from-a-file").output == "77")
            // The rendered settings leave the key the user set on the command line alone.
            let rendered = try fromFile.exec(["cat", "/run/lifeguard/mysqld.cnf"]).stdout
            #expect(rendered.contains("# max_connections: set by you"))
            #expect(rendered.contains("innodb_buffer_pool_size = "))

            let random = try Container(["-e", "MYSQL_RANDOM_ROOT_PASSWORD=yes", "-e", "MYSQL_INITDB_SKIP_TZINFO=1"])
            #expect(random.waitForLog(#"msg="ready: the command said READY=1""#))
            // Without a memory limit there is no offer: the server's own defaults, and the file says why.
            #expect(try random.exec(["cat", "/run/lifeguard/mysqld.cnf"]).stdout.contains("no memory offer"))
            let line = try #require(random.logs.split(separator: "\n").first { $0.contains("GENERATED ROOT PASSWORD: ") })
            let generated = String(line.split(separator: " ").last ?? "")
            // 32 characters mixing cases, digits and symbols (simple_password_check's rules).
            #expect(generated.count == 32)
            #expect(generated.contains(where: \.isUppercase) && generated.contains(where: \.isLowercase)
                    && generated.contains(where: \.isNumber) && generated.contains { !$0.isLetter && !$0.isNumber })
            #expect(try random.sql("select 1", password: generated).output == "1")

            let image = try Docker.requireImage()
            let version = try Docker.run(["run", "--rm", "--network", "none", image, "--version"])
            #expect(version.code == 0 && version.stdout.contains("MariaDB"))
            let other = try Docker.run(["run", "--rm", "--network", "none", image, "echo", "hello from a command"])
            #expect(other.code == 0 && other.stdout == "hello from a command\n")
        }

        @Test("an empty root password, a one-time password, a root host, and a conf.d setting that wins")
    func emptyPasswordRootHostAndConfD() throws {
        let confd = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: confd) }
        try "[mysqld]\ninnodb_buffer_pool_size = 64M\n".write(toFile: confd + "/mine.cnf", atomically: true, encoding: .utf8)
        chmod(confd + "/mine.cnf", 0o644)
        let container = try Container(Self.article + ["-e", "MYSQL_ALLOW_EMPTY_PASSWORD=yes", "-e", "MYSQL_ONETIME_PASSWORD=yes",
                                                      "-e", "MYSQL_ROOT_HOST=10.0.0.%", "-e", "MYSQL_INITDB_SKIP_TZINFO=1",
                                                      "-v", "\(confd)/mine.cnf:/etc/mysql/conf.d/mine.cnf:ro"])
        #expect(container.waitForLog(#"msg="ready: the command said READY=1""#), "\(container.logs.suffix(3000))")
        let users = try container.exec(["mariadb", "-uroot", "-N", "-B", "-e",
                                        "select host, password_expired from mysql.user where user = 'root' order by host"])
        #expect(users.stdout == "10.0.0.%\tY\nlocalhost\tN\n", "\(users.stdout)\(users.stderr)")
        // The buffer pool the user set in conf.d, not the rendered one (which leaves it out).
        #expect(try container.exec(["mariadb", "-uroot", "-N", "-B", "-e", "select @@innodb_buffer_pool_size"]).stdout == "67108864\n")
        #expect(try container.exec(["cat", "/run/lifeguard/mysqld.cnf"]).stdout.contains("# innodb_buffer_pool_size: set by you"))
    }

    /// Bad input: a clear error, a non-zero exit, and an existing datadir never touched.
        @Test("bad input fails clearly and never touches the datadir", arguments: [
            (["-e", "MYSQL_DATABASE=shop"], "no root password is set"),
            (["-e", "MYSQL_ROOT_PASSWORD=x", "-e", "MYSQL_USER=root", "-e", "MYSQL_PASSWORD=y"], "MYSQL_USER=root is not allowed"),
            (["-e", "MYSQL_ROOT_PASSWORD=x", "-e", "MYSQL_ROOT_PASSWORD_FILE=/etc/hostname"], "both MYSQL_ROOT_PASSWORD and MYSQL_ROOT_PASSWORD_FILE are set"),
            (["-e", "MYSQL_ROOT_PASSWORD=x", "-e", "LIFEGUARD_GRACE_PERIOD=soon"], "LIFEGUARD_GRACE_PERIOD = \"soon\" is invalid"),
        ])
        func badInput(options: [String], message: String) throws {
            let data = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            chmod(data, 0o777)
            let image = try Docker.requireImage()
            let fresh = try Docker.run(["run", "--rm", "--network", "none", "-v", "\(data):/var/lib/mysql"] + options + [image])
            #expect(fresh.code != 0 && fresh.code != nil)
            #expect((fresh.stdout + fresh.stderr).contains(message), "\(fresh.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: data).isEmpty, "a new datadir was touched")
            // An existing datadir: the same error (the first case aside: a password is only needed to
            // initialise), and not one file changed.
            guard message != "no root password is set" else { return }
            try "existing".write(toFile: data + "/marker", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: data + "/mysql", withIntermediateDirectories: true)
            let before = try FileManager.default.contentsOfDirectory(atPath: data).sorted()
            let existing = try Docker.run(["run", "--rm", "--network", "none", "-v", "\(data):/var/lib/mysql"] + options + [image])
            #expect(existing.code != 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: data).sorted() == before)
            #expect(try String(contentsOfFile: data + "/marker", encoding: .utf8) == "existing")
        }
    }
}
