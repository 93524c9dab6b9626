import Foundation
import Glibc
import LifeguardStatus
import Testing

extension RealSystemTests {
    /// `docker run --rm -v data:/var/lib/mysql IMAGE resurrect` on a named volume whose datadir has a
    /// damaged InnoDB page, then the image started again on it, as an operator would.
    @Suite("Resurrect in the image, on a Docker volume", .serialized, .needs(Docker.available, "root, docker.io with a running dockerd, debootstrap"))
    struct DockerResurrectTests {
        static let password = "resurrect-Pass1"

        @Test("the volume's damaged table reported lost, every other row back, the original kept in the volume, the outcome in lifeguard status")
        func damagedVolume() throws {
            let image = try Docker.requireImage()
            let volume = "lifeguard-test-\(UUID().uuidString.prefix(8).lowercased())"
            defer { _ = try? Docker.run(["volume", "rm", "-f", volume]) }
            let first = try Container(["-v", "\(volume):/var/lib/mysql", "-e", "MYSQL_ROOT_PASSWORD=\(Self.password)",
                                       "-e", "MYSQL_DATABASE=shop", "-e", "MYSQL_INITDB_SKIP_TZINFO=1", "--health-interval", "1s"])
            #expect(first.waitForHealth(), "\(first.logs.suffix(3000))")
            #expect(try first.sql("""
                create table kept (id int primary key, v varchar(200)) engine=innodb;
                insert into kept select seq, repeat('k', 150) from seq_1_to_20000;
                create table damaged like kept; insert into damaged select * from kept where id <= 5000;
                create table flat (id int primary key) engine=myisam; insert into flat select seq from seq_1_to_1000;
                """, password: Self.password, database: "shop").code == 0)
            #expect(try Docker.run(["stop", first.name]).code == 0)
            let data = try Docker.run(["volume", "inspect", "-f", "{{.Mountpoint}}", volume]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try ResurrectTests.damage(data + "/shop/damaged.ibd", at: 16384 * 5 + 200)
            let before = try ResurrectTests.treeHash(data)

            let run = try Docker.run(["run", "--rm", "--network", "none", "-v", "\(volume):/var/lib/mysql", image, "resurrect"])
            #expect(run.code == 11, "\(run.stdout)\n\(run.stderr.suffix(3000))")
            #expect(run.stdout.contains("lost      shop.damaged (InnoDB, about "), "\(run.stdout)")
            let kept = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasPrefix(".lifeguard-kept-") }
            #expect(kept.count == 1)
            #expect(try ResurrectTests.treeHash(data + "/" + (kept.first ?? "none")) == before, "the kept original differs")

            let status = "/var/tmp/lifeguard-docker-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: status, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: status) }
            let second = try Container(["-v", "\(volume):/var/lib/mysql", "-v", "\(status):/run/lifeguard", "--health-interval", "1s"])
            #expect(second.waitForHealth(), "\(second.logs.suffix(3000))")
            #expect(try second.sql("select count(*), sum(id) from kept", password: Self.password, database: "shop").output == "20000\t200010000")
            #expect(try second.sql("select count(*) from flat", password: Self.password, database: "shop").output == "1000")
            #expect(try second.sql("select count(*) from damaged", password: Self.password, database: "shop").output == "0")
            // The kept original and the work directory are no databases.
            #expect(try second.sql("show databases", password: Self.password).output == "information_schema\nmysql\nperformance_schema\nshop\nsys")
            // Host-side, from the status directory alone.
            let shown = try TestProcess([Binaries.lifeguard, "status", status + "/status.json"])
            #expect(shown.exitCode() == 0)
            #expect(shown.stdout.contains("resurrect         resurrected_with_losses (exit 11) at "), "\(shown.stdout)")
            #expect(shown.stdout.contains("1 table lost, the original kept in /var/lib/mysql/.lifeguard-kept-"), "\(shown.stdout)")
            let parsed = try #require(Status(json: String(contentsOfFile: status + "/status.json", encoding: .utf8)))
            #expect(parsed.resurrect?.outcome == "resurrected_with_losses" && parsed.resurrect?.lostTables == 1)
        }
    }
}
