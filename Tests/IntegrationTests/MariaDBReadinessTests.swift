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

        /// A wedged server (SIGSTOP: it accepts connections into the socket's backlog and answers none)
        /// stays "ready" when readiness is decided once. With Lifeguard's connection it turns
        /// unresponsive after three unanswered checks, and ready again at its next answer.
        @Test("readiness that stays true: SIGSTOP makes the server unresponsive (probe --ready fails, --live passes), SIGCONT ready again")
        func unresponsive() throws {
            let server = try MariaDB()
            let (directory, file) = try statusFile()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.2", "--server-account",
                                                   "--server-check-interval", "0.5"] + server.serverCommand())
            let ready = try #require(StatusFileTests.waitForState(.ready, in: file, timeout: .seconds(60)), "\(lifeguard.stderr)")
            // The server's pid in this namespace (the status file's is in Lifeguard's).
            let mariadbd = try #require(Supervised.firstChild(of: lifeguard.lifeguardPID))
            // (A native account with no password stands in for unix_socket: Lifeguard sends none either way.)
            #expect(try server.query("create user lifeguard@localhost; grant process, connection admin on *.* to lifeguard@localhost").code == 0)
            let deadline = MonotonicInstant.now() + .seconds(10)
            while !lifeguard.stderr.contains("Lifeguard's own connection to the server works"), MonotonicInstant.now() < deadline { usleep(50_000) }
            #expect(lifeguard.stderr.contains("Lifeguard's own connection to the server works"), "\(lifeguard.stderr)")
            usleep(2_000_000)
            #expect(StatusFileTests.status(file)?.state == .ready, "answering pings: still ready")
            let stopped = MonotonicInstant.now()
            kill(mariadbd, SIGSTOP)
            let lost = StatusFileTests.waitForState(.unresponsive, in: file, timeout: .seconds(15))
            let after = MonotonicInstant.now() - stopped
            let probes = (ready: try StatusFileTests.probe(["--ready", "--status-file", file]).code,
                          live: try StatusFileTests.probe(["--live", "--status-file", file]).code)
            kill(mariadbd, SIGCONT)
            #expect(probes.ready != 0 && probes.live == 0, "\(probes)")
            let wedged = try #require(lost, "never unresponsive: \(lifeguard.stderr)")
            #expect(after < .seconds(6), "three checks of 0.5 s and their retries: \(after)")
            #expect(wedged.lastEvent?.reason == "unresponsive" && wedged.childPID == ready.childPID)
            #expect(lifeguard.stderr.contains("not ready: the server does not answer Lifeguard's own connection"))
            let back = try #require(StatusFileTests.waitForState(.ready, in: file, timeout: .seconds(15)), "\(lifeguard.stderr)")
            #expect(back.lastEvent?.reason == "answering" && back.childPID == ready.childPID && back.restarts == 0)
            #expect(try StatusFileTests.probe(["--ready", "--status-file", file]).code == 0)
            lifeguard.send(SIGTERM)
            #expect(lifeguard.exitCode(timeout: .seconds(60)) == 0)
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
