import Foundation
import Glibc
import LifeguardMySQL
import LifeguardSupervisor
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// Lifeguard's own MySQL client (LifeguardMySQL over a non-blocking ServerConnection) against a real
    /// MariaDB: the handshake, text result sets, errors, COM_PING, the result cap, and authentication
    /// by the socket's peer with no password (unix_socket), which is how Lifeguard reaches the server.
    @Suite("Lifeguard's MySQL client against MariaDB", .needs(MariaDB.available, "root and mariadb-server"))
    struct MySQLClientTests {
        /// `body` with a running server (not under Lifeguard: the client is what is tested), killed after.
        func withServer(_ body: (MariaDB) throws -> Void) throws {
            let server = try MariaDB()
            let process = try TestProcess(server.serverCommand())
            defer {
                kill(process.pid, SIGKILL)
                process.wait()
            }
            #expect(try server.waitUntilReady(), "MariaDB did not start: \(process.stderr)")
            try body(server)
        }

        func connect(_ server: MariaDB, user: String, peer: uid_t? = nil, cap: Int = 256 * 1024) throws -> (ServerConnection, ClientSession.Event?) {
            let connection = try ServerConnection(path: server.socket, user: user, peerUserID: peer, maximumResultBytes: cap)
            let events = connection.wait(until: .now() + .seconds(10)) { !$0.isEmpty }
            return (connection, events.first)
        }

        func run(_ connection: ServerConnection, _ sql: String) -> ClientSession.Event? {
            connection.query(sql)
            return connection.wait(until: .now() + .seconds(10)) { !$0.isEmpty }.first
        }

        @Test("queries: rows with NULLs, an OK, an error, a ping, a result over the cap fails the connection")
        func queries() throws {
            try withServer { server in
                let (connection, connected) = try connect(server, user: "root", cap: 64 * 1024)
                guard case .connected(let greeting) = connected else { throw TestFailure("not connected: \(String(describing: connected))") }
                #expect(greeting.isMariaDB && greeting.serverVersion.contains("10.11"), "\(greeting.serverVersion)")
                #expect(run(connection, "select 1 as a, null as b, 'été' as c union all select 2, 3, null")
                        == .result(.rows(columns: ["a", "b", "c"], rows: [["1", nil, "été"], ["2", "3", nil]])))
                #expect(run(connection, "create database shed") == .result(.ok(OKPacket(affectedRows: 1, lastInsertID: 0, status: 2, warnings: 0))))
                guard case .result(.error(let error)) = run(connection, "select * from shed.missing") else { throw TestFailure("no error") }
                #expect(error.code == 1146 && error.sqlState == "42S02" && error.message.contains("missing"))
                connection.ping()
                #expect(connection.wait(until: .now() + .seconds(10)) { !$0.isEmpty } == [.pong])
                #expect(run(connection, "select connection_id()") != nil && connection.isIdle)
                // 100,000 bytes of result against a 64 KiB cap: the connection fails, Lifeguard does not grow.
                guard case .failed = run(connection, "select repeat('x', 100000)") else { throw TestFailure("no failure") }
                #expect(connection.isClosed)
            }
        }

        /// MariaDB 10.11's unix_socket takes the peer's OS user name as the account's name; Lifeguard, as
        /// root, connects with its thread's effective user set to that user, for the connect only.
        @Test("no password: unix_socket authenticates the peer's OS user; the same account from root is refused")
        func peerAuthentication() throws {
            try withServer { server in
                let nobody = try #require(getpwnam("nobody")?.pointee.pw_uid)
                #expect(try server.query("create user nobody@localhost identified via unix_socket; grant process on *.* to nobody@localhost").code == 0)
                let (connection, connected) = try connect(server, user: "nobody", peer: nobody)
                guard case .connected = connected else { throw TestFailure("not connected: \(String(describing: connected))") }
                #expect(run(connection, "select current_user()") == .result(.rows(columns: ["current_user()"], rows: [["nobody@localhost"]])))
                #expect(geteuid() == 0, "the effective user is root again")
                let (refused, answer) = try connect(server, user: "nobody")
                guard case .failed(.authenticationFailed(let error)) = answer else { throw TestFailure("not refused: \(String(describing: answer))") }
                #expect(error.code == 1698, "\(error)")
                #expect(refused.isClosed)
            }
        }

        /// Drives the link as the loop does (poll its descriptor, advance) until `done` says so for the
        /// events so far, or 10 s.
        func drive(_ link: ServerLink, until done: ([ServerLink.Event]) -> Bool) -> [ServerLink.Event] {
            var events: [ServerLink.Event] = []
            let deadline = MonotonicInstant.now() + .seconds(10)
            while !done(events), let descriptor = link.pollDescriptor, MonotonicInstant.now() < deadline {
                var entry = pollfd(fd: descriptor.rawValue, events: link.pollEvents, revents: 0)
                _ = poll(&entry, 1, 100)
                events += link.advance(now: .now())
            }
            return events
        }

        /// One attempt: what the link says about it (nil: nothing new).
        func attempt(_ link: ServerLink) -> ServerLink.Outcome? {
            if let outcome = link.begin(now: .now()) { return outcome }
            for case .outcome(let outcome) in drive(link, until: { !$0.isEmpty }) { return outcome }
            return nil
        }

        @Test("the link: no account is said once with the server's reason, retried later and later (a refusal is an answer); the account added, it works and stays open")
        func link() throws {
            try withServer { server in
                let link = ServerLink(socketPath: server.socket, peerUserID: nil)
                let denied = ServerLink.Outcome.unavailable("1045 Access denied for user 'lifeguard'@'localhost' (using password: NO)")
                let before = MonotonicInstant.now()
                #expect(attempt(link) == denied)
                #expect(link.pollDescriptor == nil && !link.canSend)
                let firstRetry = try #require(link.nextAttempt) - before
                #expect(firstRetry >= link.retryDelay && firstRetry < link.retryDelay + .seconds(2), "\(firstRetry)")
                // The retry, as the loop makes it once it is due: the same outcome is not news, and the next wait is twice as long.
                let retryDue = try #require(link.nextAttempt)
                #expect(link.advance(now: retryDue).isEmpty)
                let retried = MonotonicInstant.now()
                _ = drive(link) { !$0.isEmpty }
                #expect(link.lastOutcome == denied)
                let secondRetry = try #require(link.nextAttempt) - retried
                #expect(secondRetry >= link.retryDelay * 2 && secondRetry < link.retryDelay * 2 + .seconds(2), "\(secondRetry)")
                // (A native account with no password stands in for unix_socket here: the link sends no password either way.)
                #expect(try server.query("create user lifeguard@localhost; grant process on *.* to lifeguard@localhost").code == 0)
                guard case .available(let version, _)? = attempt(link) else { throw TestFailure("not available: \(String(describing: link.lastOutcome))") }
                #expect(version.contains("MariaDB") && link.flavor == .mariadb)
                #expect(link.pollDescriptor != nil && link.canSend && link.nextAttempt == nil, "the connection stays open")
                link.send("select current_user()")
                #expect(!link.canSend, "one command at a time")
                #expect(drive(link) { $0.count >= 2 } == [.heard, .result(.rows(columns: ["current_user()"], rows: [["lifeguard@localhost"]]))])
                // The server drops it (an operator's KILL): no command was in flight, so nothing is lost; it says so and retries.
                #expect(try server.query("kill user lifeguard").code == 0)
                let lost = drive(link) { $0.count >= 2 }
                #expect(lost == [.unheard("the server closed the connection"), .outcome(.unavailable("the server closed the connection"))])
                #expect(link.nextAttempt != nil && link.pollDescriptor == nil)
                #expect(attempt(link) != nil, "working again is news")
                link.end()
                #expect(link.pollDescriptor == nil && link.nextAttempt == nil)
                usleep(200_000)
                #expect(!server.log.contains("Aborted connection"), "COM_QUIT said goodbye: \(server.log.suffix(1000))")
            }
        }
    }
}
