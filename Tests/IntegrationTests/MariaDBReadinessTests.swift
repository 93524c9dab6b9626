import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// Readiness with a real MariaDB (Debian's, which speaks sd_notify): by notify, by the handshake when
    /// it cannot notify, and never while only an entrypoint's temporary server runs.
    @Suite("MariaDB readiness", .serialized, .needs(MariaDB.available, "root and mariadb-server"))
    struct MariaDBReadinessTests {
        func statusFile() throws -> (directory: String, file: String) {
            let directory = try StatusFileTests.temporaryDirectory()
            return (directory, directory + "/status.json")
        }

        @Test("ready by sd_notify, with the server's own STATUS; stopping while it shuts down")
        func readyByNotify() throws {
            let server = try MariaDB()
            let (directory, file) = try statusFile()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // A slow shutdown (full purge) so that `stopping` lasts long enough to be seen.
            let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.2"]
                                           + server.serverCommand(["--innodb-fast-shutdown=0"]))
            let ready = try #require(StatusFileTests.waitForState(.ready, in: file, timeout: .seconds(60)), "\(lifeguard.stderr)")
            #expect(ready.readiness == "notify")
            #expect(ready.serverStatus == "Taking your SQL requests now...")
            #expect(ready.command == "mariadbd")
            #expect(try server.query("select 1").code == 0)
            #expect(try StatusFileTests.probe(["--ready", "--status-file", file]).code == 0)
            // Work for the shutdown: 200,000 delete-marked rows that a full purge must clean up.
            #expect(try server.query("""
                create table work (id int primary key, v char(100)) engine=innodb;
                insert into work select seq, 'x' from seq_1_to_200000; delete from work;
                """, database: "mysql").code == 0)
            lifeguard.send(SIGTERM)
            let stopping = try #require(StatusFileTests.waitForState(.stopping, in: file), "stopping was never seen")
            #expect(stopping.lastEvent?.reason == "stop_signal")
            #expect(lifeguard.exitCode(timeout: .seconds(60)) == 0)
            #expect(server.logCount("mariadbd: Shutdown complete") == 1)
            #expect(server.logCount("Aborted connection") == 0, "no probe connection when the server notifies")
        }

        @Test("ready by the handshake when the server cannot notify: unix socket and TCP", arguments: [false, true])
        func readyByHandshake(overTCP: Bool) throws {
            let server = try MariaDB()
            let (directory, file) = try statusFile()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let port = 20000 + Int(getpid() % 20000)
            let network = overTCP ? ["--skip-networking=0", "--port=\(port)", "--bind-address=127.0.0.1"] : []
            let readiness = overTCP ? ["--ready-address", "127.0.0.1:\(port)"] : ["--ready-address", server.socket]
            let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.2"] + readiness
                                           + ["env", "-u", "NOTIFY_SOCKET"] + server.serverCommand(network))
            let ready = try #require(StatusFileTests.waitForState(.ready, in: file, timeout: .seconds(60)), "\(lifeguard.stderr)")
            #expect(ready.readiness == "handshake")
            #expect(ready.serverVersion?.contains("MariaDB") == true)
            #expect(lifeguard.stderr.contains("ready: the server sent its handshake greeting"))
            lifeguard.send(SIGTERM)
            #expect(lifeguard.exitCode(timeout: .seconds(60)) == 0)
            // The one connection that read the greeting, and no more.
            #expect(server.logCount("Aborted connection") == 1)
        }

        /// As docker-entrypoint.sh does on a new datadir: a temporary server with --skip-networking on the
        /// same socket, which also inherits NOTIFY_SOCKET and says READY=1, then the real server (exec'd).
        @Test("a temporary init server never makes the state ready", arguments: [true, false])
        func temporaryServer(serverNotifies: Bool) throws {
            let server = try MariaDB()
            let (directory, file) = try statusFile()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let command = server.serverCommand(["--skip-networking"]).joined(separator: " ")
            let script = "\(command) & temporary=$!; sleep 4; kill $temporary; wait $temporary; exec \(command)"
            let prefix = serverNotifies ? [] : ["env", "-u", "NOTIFY_SOCKET"]
            let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.2", "--ready-address", server.socket]
                                           + prefix + ["sh", "-c", script])
            // The temporary server answers on the socket...
            #expect(try server.waitUntilReady(timeout: .seconds(30)))
            usleep(1_000_000)
            // ...but the state stays starting, and no probe touched it.
            #expect(StatusFileTests.status(file)?.state == .starting)
            #expect(try StatusFileTests.probe(["--ready", "--status-file", file]).code == 1)
            #expect(server.logCount("Aborted connection") == 0)
            let ready = try #require(StatusFileTests.waitForState(.ready, in: file, timeout: .seconds(60)), "\(lifeguard.stderr)")
            #expect(ready.readiness == (serverNotifies ? "notify" : "handshake"))
            #expect(server.logCount("mariadbd: ready for connections") == 2)
            #expect(server.logCount("Aborted connection") == (serverNotifies ? 0 : 1))
            lifeguard.send(SIGTERM)
            #expect(lifeguard.exitCode(timeout: .seconds(60)) == 0)
        }
    }
}
