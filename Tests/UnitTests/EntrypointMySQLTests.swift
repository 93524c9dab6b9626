import Foundation
import Glibc
import Testing

/// docker-entrypoint.sh's MySQL 8 branches, which no server on this machine can run (MySQL 8 is not
/// installable here): the entrypoint runs against stubs that answer as MySQL 8.4 does (`mysqld
/// --verbose --help`, `--initialize-insecure`, a temporary server, the `mysql` client), and the test
/// reads what it asked of them. The MariaDB branches run against the real server (ImageContractTests).
@Suite("The entrypoint's MySQL 8 branches, against stubs")
struct EntrypointMySQLTests {
    let stubs: String

    init() throws {
        stubs = NSTemporaryDirectory() + "lifeguard-entrypoint-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: stubs + "/bin", withIntermediateDirectories: true)
        // The first lines of MySQL 8.4.3's `mysqld --verbose --help`, and the variables the entrypoint reads.
        try """
            /usr/sbin/mysqld  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)
            Copyright (c) 2000, 2024, Oracle and/or its affiliates.

            Variables (--variable-name=value)
            and boolean options {FALSE|TRUE}                             Value (after reading options)
            ------------------------------------------------------------ -------------
            datadir                                                      \(stubs)/data/
            port                                                         3306
            socket                                                       \(stubs)/mysqld.sock

            """.write(toFile: stubs + "/help.txt", atomically: true, encoding: .utf8)
        let scripts = [
            // Not root: no step down (the image's path as --user).
            "id": "echo 999",
            "mysqld": """
                echo "mysqld $*" >> "$STUBS/calls"
                case " $* " in
                    *" --help "*) cat "$STUBS/help.txt" ;;
                    *" --initialize-insecure "*) mkdir -p "$STUBS/data/mysql" ;;
                    *" --skip-networking "*)
                        touch "$STUBS/temporary-running"
                        trap 'rm -f "$STUBS/temporary-running"; exit 0' TERM
                        while :; do sleep 0.05; done ;;
                    *) echo "the server started" ;;
                esac
                """,
            // The client: records its options, its option file and its SQL; connects only while the
            // temporary server runs.
            "mysql": """
                [ -e "$STUBS/temporary-running" ] || exit 1
                for option; do
                    case "$option" in --defaults-extra-file=*) cat "${option#*=}" >> "$STUBS/option-files" ;; esac
                done
                echo "mysql $*" >> "$STUBS/calls"
                case " $* " in *" -e "*) exit 0 ;; esac
                cat >> "$STUBS/sql"
                """,
            "mysql_tzinfo_to_sql": "echo \"INSERT INTO time_zone VALUES ('Local time zone must be set--see zic manual page');\"",
            "my_print_defaults": "exit 0",
            "lifeguard": "exit 0",
        ]
        for (name, body) in scripts {
            let path = stubs + "/bin/" + name
            try "#!/bin/bash\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
    }

    /// Runs the entrypoint with the stubs first on the PATH; (exit code, stdout + stderr).
    func entrypoint(_ arguments: [String], environment: [String: String]) throws -> (code: Int32, output: String) {
        let variables = ["PATH": stubs + "/bin:/usr/bin:/bin", "STUBS": stubs, "LIFEGUARD_SERVER_CONFIG": stubs + "/rendered.cnf"]
            .merging(environment) { $1 }
        return try Self.bash([try ImageTests.repositoryFile("docker-entrypoint.sh")] + arguments, environment: variables,
                             output: stubs + "/output")
    }

    /// bash with ARGUMENTS, its signal mask and handlers the defaults (this test process blocks
    /// signals, and a child inherits its mask: the stub server would never see the entrypoint's
    /// SIGTERM); (exit code, stdout + stderr).
    static func bash(_ arguments: [String], environment: [String: String], output: String) throws -> (code: Int32, output: String) {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = (["/bin/bash"] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        // A broken entrypoint must fail the test, not hang the suite: 60 s, then its whole process group is killed.
        var status: Int32 = 0
        var waited = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if waited >= 6000 {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw POSIXError(.ETIMEDOUT)
            }
            usleep(10_000)
            waited += 1
        }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    func file(_ name: String) -> String { (try? String(contentsOfFile: stubs + "/" + name, encoding: .utf8)) ?? "" }

    @Test("a new datadir: --initialize-insecure, root and the user with escaped values, no MariaDB accounts, then the server")
    func initialisation() throws {
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        let run = try entrypoint(["mysqld"], environment: [
            "MYSQL_ROOT_PASSWORD": "it's\n\"x\"\\", "MYSQL_DATABASE": "my_db%", "MYSQL_USER": "app", "MYSQL_PASSWORD": "p",
            "MYSQL_ONETIME_PASSWORD": "yes",
        ])
        #expect(run.code == 0, "\(run.output)")
        #expect(run.output.hasSuffix("the server started\n"), "\(run.output)")
        let calls = file("calls"), sql = file("sql")
        #expect(calls.contains("mysqld --initialize-insecure --default-time-zone=SYSTEM\n"))
        #expect(calls.contains("--skip-networking --default-time-zone=SYSTEM --socket=\(stubs)/mysqld.sock --loose-innodb-buffer-pool-load-at-startup=0 --mysqlx=OFF"))
        #expect(calls.hasSuffix("\nmysqld \n"), "the server runs with the user's arguments only")
        // Time zones never into the binary log, MySQL's FCTY fix applied.
        #expect(sql.contains("SET @@SESSION.SQL_LOG_BIN = 0;\nINSERT INTO time_zone VALUES ('FCTY');"), "\(sql)")
        #expect(sql.contains(#"ALTER USER 'root'@'localhost' IDENTIFIED BY 'it\'s\n"x"\\';"#), "\(sql)")
        #expect(sql.contains(#"CREATE USER 'root'@'%' IDENTIFIED BY 'it\'s\n"x"\\'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"#))
        #expect(sql.contains("CREATE DATABASE IF NOT EXISTS `my_db%`;"))
        #expect(sql.contains(#"GRANT ALL ON `my\_db\%`.* TO 'app'@'%';"#), "the database's _ and % are wildcards in a GRANT")
        #expect(sql.contains("ALTER USER 'root'@'%' PASSWORD EXPIRE;"))
        for mariadbOnly in ["PROXY", "unix_socket", "healthcheck", "REPLICATION", "IDENTIFIED BY PASSWORD"] {
            #expect(!sql.contains(mariadbOnly), "\(mariadbOnly) in MySQL's initialisation")
        }
        // The root password reaches the client in an option file, its newline and quotes escaped.
        #expect(file("option-files").contains(#"password="it's\n\"x\"\\""#), "\(file("option-files"))")
        #expect(!calls.contains("it's"), "the password on a command line")
        #expect(FileManager.default.fileExists(atPath: stubs + "/data/mysql"))
        #expect(!FileManager.default.fileExists(atPath: stubs + "/data/.lifeguard-initialising"), "initialisation not marked finished")
    }

    @Test("MariaDB-only settings on MySQL are an error before anything is touched", arguments: [
        "MARIADB_ROOT_PASSWORD_HASH", "MARIADB_REPLICATION_USER", "MARIADB_MASTER_HOST",
    ])
    func mariadbOnly(variable: String) throws {
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        var environment = ["MARIADB_REPLICATION_USER": "r", "MARIADB_REPLICATION_PASSWORD": "y", "MYSQL_ROOT_PASSWORD": "x"]
        if variable == "MARIADB_ROOT_PASSWORD_HASH" {
            environment = [variable: "*61584B76F6ECE8FB9A328E7CF198094B2FAC55C7"]
        } else if variable == "MARIADB_MASTER_HOST" {
            environment[variable] = "primary"
        }
        let run = try entrypoint(["mysqld"], environment: environment)
        #expect(run.code == 1)
        #expect(run.output.contains("this server is MySQL"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: stubs + "/data"))
    }

    @Test("sourced, the entrypoint defines the official helpers and runs nothing")
    func sourced() throws {
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        let script = try ImageTests.repositoryFile("docker-entrypoint.sh")
        let run = try Self.bash(["-c", ". \"$1\" mysqld && declare -F docker_process_sql mysql_note mysql_warn mysql_error _is_sourced && sql_grant_database 'a_b%c'",
                                 "initdb-script", script], environment: ["PATH": stubs + "/bin:/usr/bin:/bin", "STUBS": stubs],
                                output: stubs + "/output")
        #expect(run.code == 0)
        #expect(run.output == "docker_process_sql\nmysql_note\nmysql_warn\nmysql_error\n_is_sourced\na\\_b\\%c", "\(run.output)")
        #expect(file("calls").isEmpty, "sourcing ran the server")
    }
}
