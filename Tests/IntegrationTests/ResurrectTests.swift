import Foundation
import Glibc
import LifeguardStatus
import Testing

extension RealSystemTests {
    /// `resurrect` (resurrect/resurrect) against real MariaDB datadirs: damaged, crashed, short of disk,
    /// interrupted at every step, and the kept original expiring.
    @Suite("Resurrect: a damaged datadir back as a clean instance, the original kept",
           .serialized, .needs(MariaDB.available && Prerequisites.executable("mariadb-dump") != nil, "root and mariadb-server"))
    struct ResurrectTests {
        static let script = Prerequisites.repositoryRoot + "/resurrect/resurrect"

        /// A stopped datadir holding t: InnoDB kept and damaged (5,000 rows each), MyISAM flat, Aria
        /// aria, a trigger, a procedure, an event, a view, and an account app@'%'.
        static func populated() throws -> MariaDB {
            let server = try MariaDB()
            let running = try TestProcess(server.serverCommand(["--innodb-log-file-size=8M"]))
            #expect(try server.waitUntilReady(), "MariaDB did not start: \(server.log)")
            let setup = try server.query("""
                create database t; use t;
                create table kept (id int primary key, v varchar(200)) engine=innodb;
                create table damaged like kept;
                create table flat (id int primary key, v varchar(200)) engine=myisam;
                create table aria (id int primary key, v varchar(200)) engine=aria;
                insert into kept select seq, repeat('k', 150) from seq_1_to_5000;
                insert into damaged select * from kept; insert into flat select * from kept; insert into aria select * from kept;
                create trigger upper_v before insert on kept for each row set new.v = upper(new.v);
                create procedure hello() select 'hello';
                create event nightly on schedule every 1 day do delete from aria where id < 0;
                create view kept_ids as select id from kept;
                create user app@'%' identified by 'secret'; grant select on t.* to app@'%';
                analyze table kept, damaged;
                """)
            #expect(setup.code == 0, "\(setup.error)")
            try stop(server, running)
            return server
        }

        static func stop(_ server: MariaDB, _ running: TestProcess) throws {
            #expect(try TestProcess(["mariadb-admin", "-S", server.socket, "-uroot", "shutdown"]).exitCode(timeout: .seconds(60)) == 0)
            #expect(running.exitCode(timeout: .seconds(60)) == 0)
        }

        /// Runs resurrect on the server's datadir (as root: it steps down to mysql itself).
        static func resurrect(_ server: MariaDB, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> TestProcess {
            let path = (Binaries.lifeguard as NSString).deletingLastPathComponent + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            return try TestProcess([script] + arguments + ["--", "mariadbd", "--no-defaults", "--datadir=\(server.dataDirectory)",
                                                            "--innodb-buffer-pool-size=64M"],
                                   environment: ["PATH": path, "LIFEGUARD_SERVER_CONFIG": server.directory + "/rendered.cnf"].merging(environment) { $1 })
        }

        /// The datadir's last report.
        static func report(_ server: MariaDB) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: server.dataDirectory + "/.lifeguard-resurrect.json"))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        /// A hash of every name, type and file content under `directory`; `.lifeguard-*` entries are left
        /// out unless `whole`.
        static func treeHash(_ directory: String, whole: Bool = false) throws -> String {
            let prune = whole ? "" : "-name '.lifeguard-*' -prune -o"
            let script = "cd \"$1\" && { find . -mindepth 1 \(prune) -printf '%y %p\\n' | sort; find . -mindepth 1 \(prune) -type f -print0 | sort -z | xargs -0r sha256sum; } | sha256sum"
            let hash = try TestProcess(["bash", "-c", script, "hash", directory])
            #expect(hash.exitCode(timeout: .seconds(120)) == 0, "\(hash.stderr)")
            return hash.stdout
        }

        /// The kept original beside the new datadir.
        static func kept(_ server: MariaDB) throws -> String {
            let names = try FileManager.default.contentsOfDirectory(atPath: server.dataDirectory).filter { $0.hasPrefix(".lifeguard-kept-") }
            #expect(names.count == 1, "\(names)")
            return server.dataDirectory + "/" + (names.first ?? "none")
        }

        /// Starts the resurrected datadir as the image would (the kept directory is not a database).
        static func started(_ server: MariaDB) throws -> TestProcess {
            let ignored = try FileManager.default.contentsOfDirectory(atPath: server.dataDirectory)
                .filter { $0.hasPrefix(".lifeguard-") && !$0.hasSuffix(".json") }.map { "--ignore-db-dirs=\($0)" }
            let running = try TestProcess(server.serverCommand(ignored))
            #expect(try server.waitUntilReady(), "the resurrected datadir did not start: \(server.log.suffix(2000))")
            return running
        }

        /// Overwrites `count` bytes of `file` at `offset` with a pattern no page checksum matches.
        static func damage(_ file: String, at offset: Int, count: Int = 100) throws {
            let handle = try #require(FileHandle(forUpdatingAtPath: file))
            try handle.seek(toOffset: UInt64(offset))
            handle.write(Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }))
            try handle.close()
        }

        @Test("a damaged InnoDB page and a damaged MyISAM index: every other table whole, the MyISAM table repaired, the loss reported exactly")
        func damagedTables() throws {
            let server = try Self.populated()
            try Self.damage(server.dataDirectory + "/t/damaged.ibd", at: 16384 * 5 + 200)
            try Self.damage(server.dataDirectory + "/t/flat.MYI", at: 1100, count: 200)
            let before = try Self.treeHash(server.dataDirectory)
            let run = try Self.resurrect(server)
            #expect(run.exitCode(timeout: .seconds(300)) == 11, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("resurrect: resurrected with losses (exit 11)"), "\(run.stdout)")
            #expect(run.stdout.contains("lost      t.damaged (InnoDB, about "), "\(run.stdout)")
            #expect(run.stdout.contains("repaired  t.flat"), "\(run.stdout)")
            let report = try Self.report(server)
            #expect(report["outcome"] as? String == "resurrected_with_losses")
            let lost = try #require(report["lost"] as? [[String: Any]])
            #expect(lost.count == 1 && lost.first?["database"] as? String == "t" && lost.first?["table"] as? String == "damaged", "\(lost)")
            // InnoDB's persistent statistics remember what the table held (information_schema says 0 once it is marked corrupted).
            #expect((lost.first?["estimated_rows"] as? Int ?? 0) > 0, "\(lost)")
            #expect(report["repaired"] as? [String] == ["t.flat"])
            #expect(report["rows_dumped"] as? Int == 15000)
            // The original, byte for byte, in the kept directory.
            let kept = try Self.kept(server)
            #expect(try Self.treeHash(kept) == before)
            let running = try Self.started(server)
            for table in ["kept", "flat", "aria"] {
                #expect(try server.query("select count(*), sum(id) from t.\(table)").output == "5000\t12502500", "\(table)")
            }
            #expect(try server.query("select count(*) from t.damaged").output == "0")
            #expect(try server.query("select count(*) from t.kept_ids").output == "5000")
            #expect(try server.query("select count(*) from information_schema.triggers where trigger_schema = 't'").output == "1")
            #expect(try server.query("select count(*) from information_schema.routines where routine_schema = 't'").output == "1")
            #expect(try server.query("select count(*) from information_schema.events where event_schema = 't'").output == "1")
            #expect(try server.query("show grants for app@'%'").output.contains("GRANT SELECT ON `t`.* TO `app`@`%`"))
            #expect(try server.query("show databases").output == "information_schema\nmysql\nperformance_schema\nsys\nt")
            try Self.stop(server, running)
        }

        @Test("SIGKILL during heavy writes: nothing to resurrect (crash recovery is enough); forced, every committed row comes back")
        func crashDuringWrites() throws {
            let server = try Self.populated()
            let running = try TestProcess(server.serverCommand())
            #expect(try server.waitUntilReady())
            #expect(try server.query("create table t.writes (id int primary key, v varchar(200)) engine=innodb").code == 0)
            // Batches of 1,000 rows, each acknowledged (its number printed) only after its commit.
            let writer = try TestProcess(["bash", "-c", """
                for batch in $(seq 0 100000); do
                    mariadb -S "$1" -uroot -D t -e "insert into t.writes select $batch * 1000 + seq, repeat('w', 150) from seq_1_to_1000" || exit 0
                    echo "$batch"
                done
                """, "writer", server.socket])
            usleep(3_000_000)
            running.send(SIGKILL)
            _ = running.exitCode(timeout: .seconds(30))
            _ = writer.exitCode(timeout: .seconds(30))
            let acknowledged = writer.stdout.split(separator: "\n").compactMap { Int($0) }.max() ?? -1
            #expect(acknowledged >= 2, "too few batches before the kill: \(writer.stdout)")
            let before = try Self.treeHash(server.dataDirectory)

            let gentle = try Self.resurrect(server)
            #expect(gentle.exitCode(timeout: .seconds(300)) == 0, "\(gentle.stdout)\n\(gentle.stderr)")
            #expect(gentle.stdout.contains("resurrect: nothing to do (exit 0)"), "\(gentle.stdout)")
            #expect(try Self.report(server)["outcome"] as? String == "nothing_to_do")
            #expect(try Self.treeHash(server.dataDirectory) == before, "the gentle run changed the datadir")
            #expect(!FileManager.default.fileExists(atPath: server.dataDirectory + "/.lifeguard-resurrect"))

            let forced = try Self.resurrect(server, ["--force"])
            #expect(forced.exitCode(timeout: .seconds(300)) == 10, "\(forced.stdout)\n\(forced.stderr)")
            #expect(try Self.treeHash(try Self.kept(server)) == before)
            let again = try Self.started(server)
            let rows = try server.query("select count(*), count(distinct floor((id - 1) / 1000)), max(id) from t.writes").output
                .split(separator: "\t").compactMap { Int($0) }
            // Every acknowledged batch whole; at most the one in flight at the kill beyond them.
            #expect(rows.count == 3 && rows[0] == rows[1] * 1000 && rows[1] >= acknowledged + 1 && rows[1] <= acknowledged + 2, "\(rows), acknowledged \(acknowledged)")
            try Self.stop(server, again)
        }

        @Test("not enough disk for the copy: a clear error, exit 1, and the whole tree as it was")
        func noSpace() throws {
            let server = try Self.populated()
            // The datadir as a volume's root: a tmpfs with room for the datadir and 24 MB, not for a copy.
            let size = try TestProcess(["du", "-sm", server.dataDirectory])
            #expect(size.exitCode() == 0)
            try Self.onTmpfs(server, megabytes: (Int(size.stdout.split(separator: "\t").first ?? "") ?? 0) + 24)
            let before = try Self.treeHash(server.dataDirectory, whole: true)
            let run = try Self.resurrect(server, ["--force"])
            #expect(run.exitCode(timeout: .seconds(120)) == 1, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stderr.contains("not enough free space on"), "\(run.stderr)")
            #expect(run.stderr.contains("nothing was touched"))
            #expect(try Self.treeHash(server.dataDirectory, whole: true) == before)
        }

        @Test("the volume fills up during the dump: could not, no table counted lost, the original intact; with room again, the next run completes")
        func fullDuringDump() throws {
            let server = try Self.populated()
            let size = try TestProcess(["du", "-sm", server.dataDirectory])
            #expect(size.exitCode() == 0)
            let datadir = Int(size.stdout.split(separator: "\t").first ?? "") ?? 0
            // Room for the datadir, and for what resurrect asks (twice the datadir and 64 MiB), with a little more.
            try Self.onTmpfs(server, megabytes: 3 * datadir + 64 + 32)
            let before = try Self.treeHash(server.dataDirectory)
            let run = try Self.resurrect(server, ["--force"])
            #expect(run.waitForLine(timeout: .seconds(120)) { $0.contains("resurrect: dump (") } != nil, "\(run.stdout)")
            // Paused between its pieces while the volume fills up.
            run.send(SIGSTOP)
            let filler = server.dataDirectory + "/.lifeguard-resurrect/filler"
            _ = try TestProcess(["dd", "if=/dev/zero", "of=\(filler)", "bs=1M"]).exitCode(timeout: .seconds(60))
            run.send(SIGCONT)
            #expect(run.exitCode(timeout: .seconds(120)) == 1, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stderr.contains("is full: the dump could not be written"), "\(run.stderr)")
            #expect(!run.stdout.contains("lost      "), "\(run.stdout)")
            #expect(try Self.treeHash(server.dataDirectory) == before)
            try FileManager.default.removeItem(atPath: filler)
            let again = try Self.resurrect(server, ["--force"])
            #expect(again.exitCode(timeout: .seconds(300)) == 10, "\(again.stdout)\n\(again.stderr)")
            #expect(try Self.treeHash(try Self.kept(server)) == before)
        }

        /// Puts the datadir on a tmpfs of `megabytes` mounted in its place (a volume's root), for the disk tests.
        static func onTmpfs(_ server: MariaDB, megabytes: Int) throws {
            let moved = server.directory + "/data.original"
            try FileManager.default.moveItem(atPath: server.dataDirectory, toPath: moved)
            try FileManager.default.createDirectory(atPath: server.dataDirectory, withIntermediateDirectories: false)
            #expect(try TestProcess(["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", server.dataDirectory]).exitCode() == 0)
            #expect(try TestProcess(["cp", "-a", moved + "/.", server.dataDirectory]).exitCode(timeout: .seconds(60)) == 0)
            server.unmountAtEnd = true
        }

        @Test("interrupted at each step (SIGTERM and SIGKILL in turn), then run again: it completes, the original intact until the switch")
        func interrupted() throws {
            let steps = ["copy", "start", "check", "repair", "dump", "import", "verify", "switch"]
            var interruptedCodes: [Int32?] = []
            defer {
                // Most interruptions must land inside their step (one that lands after the run's end shows as 11).
                #expect(interruptedCodes.filter { $0 != 11 }.count >= 6, "\(interruptedCodes)")
            }
            for (index, step) in steps.enumerated() {
                let server = try Self.populated()
                try Self.damage(server.dataDirectory + "/t/damaged.ibd", at: 16384 * 5 + 200)
                let before = try Self.treeHash(server.dataDirectory)
                let signal = index.isMultiple(of: 2) ? SIGTERM : SIGKILL
                let first = try Self.resurrect(server)
                let seen = first.waitForLine(timeout: .seconds(120)) { $0.contains("resurrect: \(step) (") }
                #expect(seen != nil, "\(step): never reached: \(first.stdout)")
                first.send(signal)
                let code = first.exitCode(timeout: .seconds(120))
                #expect(code == 143 || code == 128 + SIGKILL || code == 11, "\(step): exit \(String(describing: code))")
                let switched = FileManager.default.fileExists(atPath: server.dataDirectory + "/.lifeguard-resurrect/switching")
                    || code == 11
                if !switched {
                    #expect(try Self.treeHash(server.dataDirectory) == before, "\(step): the original changed before the switch")
                }
                let second = try Self.resurrect(server)
                #expect(second.exitCode(timeout: .seconds(300)) == (code == 11 ? 0 : 11), "\(step): \(second.stdout)\n\(second.stderr)")
                // What the second run found: a complete dump is imported again, a complete new datadir switched.
                if code != 11, ["import", "verify"].contains(step) {
                    #expect(second.stdout.contains("resuming: the dump is complete; importing it"), "\(step): \(second.stdout)")
                }
                if code != 11, step == "switch" {
                    #expect(second.stdout.contains("resuming: the new datadir is complete; switching"), "\(step): \(second.stdout)")
                }
                interruptedCodes.append(code)
                #expect(try Self.treeHash(try Self.kept(server)) == before, "\(step): the kept original differs")
                #expect(!FileManager.default.fileExists(atPath: server.dataDirectory + "/.lifeguard-resurrect"))
                let running = try Self.started(server)
                #expect(try server.query("select count(*) from t.kept").output == "5000", "\(step)")
                try Self.stop(server, running)
            }
        }

        @Test("LIFEGUARD_ON_CORRUPTION=resurrect: a server that cannot start (a damaged privilege table) is resurrected by Lifeguard and started again")
        func automatic() throws {
            let server = try Self.populated()
            // MariaDB aborts its start: "Fatal error: Can't open and lock privilege tables: Index for
            // table 'global_priv' is corrupt". The fenced server runs without grant tables, so it
            // starts, and the Aria repair brings the accounts back.
            try Self.damage(server.dataDirectory + "/mysql/global_priv.MAI", at: 20, count: 200)
            let statusFile = server.directory + "/status/status.json"
            let path = Prerequisites.repositoryRoot + "/resurrect:" + (Binaries.lifeguard as NSString).deletingLastPathComponent + ":"
                + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let lifeguard = try Supervised(.pid1, ["--status-file", statusFile, "--status-interval", "0.2", "--on-corruption", "resurrect",
                                                   "--max-restarts", "2"] + server.serverCommand(),
                                           environment: ["PATH": path, "LIFEGUARD_SERVER_CONFIG": server.directory + "/rendered.cnf"])
            let status = StatusFileTests.waitForState(.ready, in: statusFile, timeout: .seconds(240)) { $0.resurrect != nil }
            #expect(status?.resurrect?.outcome == "resurrected", "\(lifeguard.stderr.suffix(4000))")
            #expect(status?.restarts == 3)
            #expect(lifeguard.stderr.contains("msg=\"the server kept dying during its start and was never ready: running resurrect on its datadir (LIFEGUARD_ON_CORRUPTION=resurrect)\""))
            #expect(lifeguard.stderr.contains("msg=\"resurrect replaced the datadir: starting the server again\""))
            #expect(try server.query("select count(*) from t.kept").output == "5000")
            #expect(try server.query("select count(*) from mysql.global_priv where user = 'app'").output == "1")
            let report = try Self.report(server)
            #expect(report["repaired"] as? [String] == ["mysql.global_priv"])
            lifeguard.send(SIGTERM)
            #expect(lifeguard.exitCode(timeout: .seconds(60)) == 0)
        }

        @Test("the kept original is removed by a later run once older than LIFEGUARD_RESURRECT_KEEP_DAYS, not before")
        func keepDays() throws {
            let server = try Self.populated()
            let first = try Self.resurrect(server, ["--force"])
            #expect(first.exitCode(timeout: .seconds(300)) == 10, "\(first.stdout)\n\(first.stderr)")
            let kept = try Self.kept(server)
            let young = server.dataDirectory + "/.lifeguard-kept-20000101T000000Z"
            #expect(try TestProcess(["cp", "-a", kept, young]).exitCode() == 0)
            #expect(try TestProcess(["touch", "-d", "8 days ago", kept]).exitCode() == 0)
            #expect(try TestProcess(["touch", "-d", "6 days ago", young]).exitCode() == 0)
            let later = try Self.resurrect(server, environment: ["LIFEGUARD_RESURRECT_KEEP_DAYS": "7"])
            #expect(later.exitCode(timeout: .seconds(300)) == 0, "\(later.stdout)\n\(later.stderr)")
            #expect(!FileManager.default.fileExists(atPath: kept), "kept for 8 days with a 7-day setting")
            #expect(FileManager.default.fileExists(atPath: young), "removed after 6 days with a 7-day setting")
            #expect(later.stdout.contains("removing \(kept)"))
        }
    }
}
