import Foundation
import Glibc
import LifeguardStatus
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// The image as a drop-in for the official ones: their own test suites' scenarios, and a first
    /// initialisation that an interruption never leaves looking done.
    @Suite("The image against the official images' contract", .serialized, .needs(Docker.available, "root, docker.io with a running dockerd, debootstrap"))
    struct ImageContractTests {
        static let marker = ".lifeguard-initialising"

        func directory(_ mode: mode_t = 0o777) throws -> String {
            let path = "/var/tmp/lifeguard-contract-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chmod(path, mode)
            return path
        }

        func write(_ text: String, to path: String, mode: mode_t = 0o644) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, mode)
        }

        /// MariaDB's mariadb-docker `.test/` scenarios and docker-library's `mysql-*` tests, every command
        /// of each required to succeed (scripts/image-scenarios says how each is adapted to this machine).
        @Test("the official images' test scenarios pass, every command succeeding")
        func officialScenarios() throws {
            let image = try Docker.requireImage()
            let run = try TestProcess([Prerequisites.repositoryRoot + "/scripts/image-scenarios", image])
            let code = run.exitCode(timeout: .seconds(1500))
            let summary = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
            #expect(code == 0, "\(run.stdout.suffix(8000))\(run.stderr.suffix(2000))")
            #expect(summary.contains(" 0 failed, 2 not run (galera_mariadbbackup galera_sst_rsync)"), "\(summary)")
            let scenarios = try TestProcess([Prerequisites.repositoryRoot + "/scripts/image-scenarios", "--list"])
            #expect(scenarios.exitCode() == 0)
            let count = scenarios.stdout.split(separator: "\n").count
            #expect(summary.hasPrefix("image-scenarios: \(count - 2) passed"), "\(summary)")
        }

        /// `docker build .` as documented, with the default `BINARY_SOURCE=builder`: the builder stage
        /// compiles Lifeguard from the sources (on a Swift image made from this machine's toolchain, as
        /// no registry is reachable here) and the final stage ships it, static.
        @Test("docker build with the default builder stage: Lifeguard compiled in the build, static, and it runs")
        func builderStage() throws {
            let root = Prerequisites.repositoryRoot
            let swiftImage = "lifeguard/swift-builder:local", tag = "lifeguard/mariadb:builder-test"
            let builder = try TestProcess([root + "/scripts/build-swift-builder-image", swiftImage])
            #expect(builder.exitCode(timeout: .seconds(1200)) == 0, "\(builder.stdout.suffix(2000))\(builder.stderr.suffix(2000))")
            _ = try Docker.requireImage()   // the base image
            let build = try TestProcess([Docker.client, "build", "--network", "host", "-q", "--build-arg", "BASE_IMAGE=\(Docker.baseImage)",
                                         "--build-arg", "SWIFT_IMAGE=\(swiftImage)", "-t", tag, root], environment: ["DOCKER_BUILDKIT": "1"])
            #expect(build.exitCode(timeout: .seconds(1800)) == 0, "\(build.stderr.suffix(4000))")
            // vfs keeps a full copy of the 2 GB builder image per build step: give the disk back.
            defer {
                _ = try? Docker.run(["rmi", tag])
                _ = try? Docker.run(["builder", "prune", "-af"])
            }
            let version = try Docker.run(["run", "--rm", "--network", "none", "--entrypoint", "/usr/local/bin/lifeguard", tag, "--version"])
            #expect(version.code == 0 && version.stdout.hasPrefix("lifeguard "), "\(version)")
            let ldd = try Docker.run(["run", "--rm", "--network", "none", "--entrypoint", "ldd", tag, "/usr/local/bin/lifeguard"])
            #expect((ldd.stdout + ldd.stderr).contains("not a dynamic executable"), "\(ldd)")
            let container = try Docker.run(["run", "-d", "--network", "none", "-e", "MYSQL_ROOT_PASSWORD=builder", "-e", "MYSQL_INITDB_SKIP_TZINFO=1", tag])
            defer { _ = try? Docker.run(["rm", "-f", "-v", container.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]) }
            #expect(container.code == 0)
            let id = container.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            var ready = false
            for _ in 0..<120 where !ready {
                usleep(500_000)
                ready = (try? Docker.run(["exec", id, "lifeguard", "probe", "--ready"]).code) == 0
            }
            #expect(ready, "the image built with the builder stage never became ready")
        }

        /// `docker stop` while an initdb script runs: the temporary server is stopped at once, the datadir
        /// is left marked incomplete, and the next start removes what the first wrote (keeping what was
        /// there before) and initialises again.
        @Test("docker stop during the first initialisation: the next start begins it again")
        func stoppedDuringInitialisation() throws {
            let data = try directory(), slowInit = try directory(0o755), quickInit = try directory(0o755)
            defer { for path in [data, slowInit, quickInit] { try? FileManager.default.removeItem(atPath: path) } }
            try write("kept", to: data + "/keep.me")
            try write("create table items (id int primary key) engine=innodb;\n", to: slowInit + "/01-schema.sql")
            try write("#!/bin/sh\nsleep 600\n", to: slowInit + "/02-slow.sh", mode: 0o755)
            try write("create table items (id int primary key) engine=innodb;\n", to: quickInit + "/01-schema.sql")
            let environment = ["-e", "MYSQL_ROOT_PASSWORD=root-pass", "-e", "MYSQL_DATABASE=shop", "-e", "MYSQL_USER=app",
                               "-e", "MYSQL_PASSWORD=app-pass", "-e", "MYSQL_INITDB_SKIP_TZINFO=1", "--stop-timeout", "75",
                               "-v", "\(data):/var/lib/mysql"]
            let first = try Container(environment + ["-v", "\(slowInit):/docker-entrypoint-initdb.d:ro"])
            #expect(first.waitForLog("running /docker-entrypoint-initdb.d/02-slow.sh"), "\(first.logs.suffix(3000))")
            let stopped = MonotonicInstant.now()
            #expect(try Docker.run(["stop", first.name]).code == 0)
            let seconds = MonotonicInstant.now() - stopped
            #expect(seconds < .seconds(30), "docker stop took \(seconds): the stop waited for the initdb script")
            #expect(first.logs.contains("stopped during initialisation"), "\(first.logs.suffix(3000))")
            #expect(FileManager.default.fileExists(atPath: data + "/" + Self.marker), "the datadir is not marked incomplete")
            #expect(FileManager.default.fileExists(atPath: data + "/mysql"), "the first start wrote nothing: the test proves nothing")

            let second = try Container(environment + ["-v", "\(quickInit):/docker-entrypoint-initdb.d:ro"])
            #expect(second.waitForLog(#"msg="ready: the command said READY=1""#), "\(second.logs.suffix(3000))")
            #expect(second.logs.contains("did not finish"))
            #expect(try second.sql("select count(*) from items", user: "app", password: "app-pass", database: "shop").output == "0")
            #expect(!FileManager.default.fileExists(atPath: data + "/" + Self.marker))
            #expect(try String(contentsOfFile: data + "/keep.me", encoding: .utf8) == "kept", "a file the datadir held before was removed")
            // As the official images do, every file in the datadir not owned by the server's user is given to it.
            let mysqlUID = try second.exec(["id", "-u", "mysql"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let owner = try FileManager.default.attributesOfItem(atPath: data + "/keep.me")[.ownerAccountID] as? NSNumber
            #expect(owner.map { String($0.intValue) } == mysqlUID, "keep.me (made by root) is owned by \(String(describing: owner)), not mysql (\(mysqlUID))")
        }

        /// A memory stop during the first initialisation (an initdb import that outgrows the article's
        /// 256 MiB container): a clean stop, no kernel OOM kill, and the restart in place initialises again.
        @Test("a memory stop during the first initialisation: the restart in place begins it again")
        func memoryStopDuringInitialisation() throws {
            let data = try directory(), flags = try directory(), initdb = try directory(0o755)
            defer { for path in [data, flags, initdb] { try? FileManager.default.removeItem(atPath: path) } }
            let doublings = String(repeating: "insert into m select * from m;\n", count: 22)
            try write("""
                #!/bin/bash
                # Grows a MEMORY table past the offer, the first time only.
                [ -e /flags/grown ] && exit 0
                touch /flags/grown
                mariadb -uroot -p"$MYSQL_ROOT_PASSWORD" shop <<'SQL'
                set session max_heap_table_size = 4 * 1024 * 1024 * 1024;
                create table m (x varchar(1000)) engine=memory;
                insert into m values (repeat('x', 1000));
                \(doublings)SQL

                """, to: initdb + "/01-grow.sh", mode: 0o755)
            let container = try Container(DockerImageTests.article + [
                "-e", "MYSQL_ROOT_PASSWORD=root-pass", "-e", "MYSQL_DATABASE=shop", "-e", "MYSQL_INITDB_SKIP_TZINFO=1",
                "-v", "\(data):/var/lib/mysql", "-v", "\(flags):/flags", "-v", "\(initdb):/docker-entrypoint-initdb.d:ro"])
            #expect(container.waitForLog(#"msg="ready: the command said READY=1""#), "\(container.logs.suffix(3000))")
            let logs = container.logs
            #expect(logs.contains("memory limit reached: graceful stop"), "\(logs.suffix(3000))")
            #expect(logs.contains("stopped during initialisation"))
            #expect(logs.contains("did not finish"))
            #expect(container.inspect("{{.State.OOMKilled}}") == "false")
            #expect(try container.sql("select count(*) from information_schema.tables where table_schema = 'shop'", password: "root-pass").output == "0")
            let status = try #require(Status(json: try container.exec(["lifeguard", "status", "--json"]).stdout))
            #expect(status.memoryStops == 1 && status.memory.kernelOOMKills == 0)
            #expect(!FileManager.default.fileExists(atPath: data + "/" + Self.marker))
        }
    }
}
