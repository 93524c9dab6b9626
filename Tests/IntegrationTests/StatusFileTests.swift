import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

/// The status file, the probe and the notify protocol against the real binary.
@Suite("Status file and probes", .needs(Prerequisites.isRoot, Prerequisites.rootReason))
struct StatusFileTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-status-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `lifeguard probe` as a probe runs it: the exit code and its one line.
    static func probe(_ arguments: [String]) throws -> (code: Int32?, line: String) {
        let process = try TestProcess([Binaries.lifeguard, "probe"] + arguments)
        let code = process.exitCode(timeout: .seconds(5))
        return (code, process.stdout.trimmingCharacters(in: .newlines))
    }

    static func status(_ path: String) -> Status? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap(Status.init(json:))
    }

    /// Waits until the status file shows `state` (and satisfies `condition`).
    static func waitForState(_ state: ServiceState, in path: String, timeout: Duration = .seconds(10),
                             where condition: (Status) -> Bool = { _ in true }) -> Status? {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            if let status = status(path), status.state == state, condition(status) { return status }
            usleep(20_000)
        }
        return nil
    }

    @Test("starting → ready (sd_notify) → stopping → exited, as the probes see it", arguments: SupervisorMode.allCases)
    func lifecycle(mode: SupervisorMode) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/status.json"
        let lifeguard = try Supervised(mode, ["--status-file", file, "--status-interval", "0.2", "--grace-period", "10",
                                              helper, "notify-server", "1", "1.5"])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        let starting = try #require(Self.waitForState(.starting, in: file))
        #expect(starting.readiness == nil)
        #expect(try Self.probe(["--ready", "--status-file", file]).code == 1)
        let live = try Self.probe(["--live", "--status-file", file])
        #expect(live.code == 0 && live.line.hasPrefix("alive:"), "\(live.line)")

        let ready = try #require(Self.waitForState(.ready, in: file))
        #expect(ready.readiness == "notify")
        #expect(ready.serverStatus == "Taking requests")
        #expect(ready.lastEvent?.reason == "ready")
        let readyProbe = try Self.probe(["--status-file", file])
        #expect(readyProbe.code == 0)
        #expect(readyProbe.line.hasPrefix("ready:"))

        lifeguard.send(SIGTERM)
        // Stopping from Lifeguard's SIGTERM; then the server's own words arrive (STOPPING=1, STATUS=…).
        #expect(Self.waitForState(.stopping, in: file) != nil)
        #expect(Self.waitForState(.stopping, in: file, where: { $0.serverStatus == "Shutdown in progress" }) != nil)
        #expect(try Self.probe(["--ready", "--status-file", file]).code == 1)
        #expect(try Self.probe(["--live", "--status-file", file]).code == 0)

        #expect(lifeguard.exitCode() == 0)
        let exited = try #require(Self.status(file))
        #expect(exited.state == .exited && exited.exitCode == 0)
        let dead = try Self.probe(["--live", "--status-file", file])
        #expect(dead.code == 1 && dead.line.contains("exited with code 0"), "\(dead.line)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/notify.sock"), "the notify socket is removed at exit")
    }

    @Test("READY=1 from another process (a temporary server) is ignored")
    func notifyFromAnotherProcess() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/status.json"
        // The main child is sh; the READY=1 comes from its child, as from an entrypoint's temporary server.
        let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.1", "--log-level", "debug",
                                               "sh", "-c", "\"$0\" notify-send READY=1; sleep 1", helper])
        #expect(lifeguard.exitCode() == 0)
        #expect(lifeguard.stderr.contains("notify message ignored: not from the command"))
        #expect(!lifeguard.stderr.contains("ready: the command said READY=1"))
    }

    @Test("STOPPING=1 from the server itself (SHUTDOWN): stopping, then its own exit code")
    func serverStopsByItself() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/status.json"
        // The main child itself (sh exec's the helper) says STOPPING=1 and takes 1.5 s to exit.
        let lifeguard = try Supervised(.subreaper, ["--status-file", file, "--status-interval", "0.1", "sh", "-c",
                                                    "exec \"$0\" notify-send STOPPING=1 1.5", helper])
        #expect(Self.waitForState(.stopping, in: file) != nil)
        #expect(lifeguard.exitCode() == 0)
        #expect(lifeguard.stderr.contains("the command is shutting down by itself (STOPPING=1)"))
    }

    @Test("MySQL's RESTART: exit code 16 starts the command again, with MYSQLD_PARENT_PID its parent", arguments: SupervisorMode.allCases)
    func restartStatement(mode: SupervisorMode) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/status.json"
        let lifeguard = try Supervised(mode, ["--status-file", file, helper, "restart-once", directory + "/marker"])
        #expect(lifeguard.exitCode() == 0)
        let lines = lifeguard.process.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        for line in lines {
            // MYSQLD_PARENT_PID=<p> ppid=<p>: the same number both times.
            let parts = line.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
            #expect(parts.count == 2 && parts[0] == parts[1] && parts[0] != "unset", "\(line)")
        }
        #expect(lifeguard.stderr.contains("the command asked to be restarted (exit code 16)"))
        #expect(Self.status(file)?.restarts == 1)
    }

    @Test("the status file: world-readable, never half-written, no environment value, no argument")
    func fileProperties() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/sub/status.json"
        let metrics = directory + "/metrics.prom"
        let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.01", "--metrics-file", metrics,
                                               "--log-level", "debug", helper, "sleep", "1.5", "--password=s3cret-argument"],
                                       environment: ["MYSQL_ROOT_PASSWORD": "s3cret-environment"])
        // Read it as fast as possible while it is rewritten every 10 ms: every read must parse.
        var reads = 0
        var bad = 0
        let deadline = MonotonicInstant.now() + .seconds(1)
        while MonotonicInstant.now() < deadline {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            reads += 1
            if Status(json: text) == nil { bad += 1 }
        }
        #expect(reads > 100)
        #expect(bad == 0, "\(bad) of \(reads) reads were not a whole status file")
        #expect(lifeguard.exitCode() == 0)
        // Safe modes: files world-readable, not writable by others; the directory not world-writable.
        // (The notify socket, 0666 while it exists, is there for a server that runs as another user;
        // only datagrams from the main child's pid count.)
        for (path, mode) in [(file, 0o644), (metrics, 0o644), (directory + "/sub", 0o755)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == mode, "\(path)")
        }
        for path in [file, metrics] {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!text.contains("s3cret"), "\(path) holds a secret")
        }
        // Nor does the log, at its most verbose.
        #expect(!lifeguard.stderr.contains("s3cret"), "the log holds a secret")
        let json = try #require(JSONValue.parse(try String(contentsOfFile: file, encoding: .utf8)))
        for key in ["state", "child_pid", "restarts", "started_at", "updated_at", "memory", "last_event", "version"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        for key in ["cgroup_version", "usage_bytes", "working_set_bytes", "limit_bytes", "soft_limit_bytes", "trigger_bytes", "kernel_oom_kills"] {
            #expect(json["memory"]?[key] != nil, "missing memory.\(key)")
        }
        let prometheus = try String(contentsOfFile: metrics, encoding: .utf8)
        // Every sample carries the host's name as its instance.
        let instance = "instance=\"\(ProcessInfo.processInfo.hostName)\""
        #expect(prometheus.contains("lifeguard_state{\(instance),state=\"exited\"} 1"), "\(prometheus)")
        #expect(prometheus.contains("# TYPE lifeguard_restarts_total counter"))
        #expect(prometheus.contains("lifeguard_memory_working_set_bytes{\(instance)} "))
    }

    @Test("an unwritable status directory: Lifeguard supervises on, says so once, the probe says why")
    func unwritableStatusDirectory() throws {
        // /etc/passwd is a file, so nothing can be created below it, even by root.
        let file = "/etc/passwd/lifeguard/status.json"
        let lifeguard = try Supervised(.pid1, ["--status-file", file, "--status-interval", "0.1", helper, "exit", "5"])
        #expect(lifeguard.exitCode() == 5)
        #expect(lifeguard.stderr.components(separatedBy: "cannot write the status file").count - 1 == 1)
        #expect(lifeguard.stderr.contains("no notify socket: readiness by handshake only"))
        let probe = try Self.probe(["--live", "--status-file", file])
        #expect(probe.code == 1 && probe.line.contains("no status file at \(file)"), "\(probe.line)")
    }

    @Test("Lifeguard opens no listening socket")
    func noListeningSocket() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lifeguard = try Supervised(.subreaper, ["--status-file", directory + "/status.json", helper, "sleep", "1"])
        usleep(300_000)
        var listening: [UInt64] = []
        let unix = (try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8)) ?? ""
        for line in unix.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count >= 7, let flags = UInt32(fields[3], radix: 16), flags & 0x10000 != 0, let inode = UInt64(fields[6]) {
                listening.append(inode)
            }
        }
        for table in ["tcp", "tcp6", "udp", "udp6"] {
            let text = (try? String(contentsOfFile: "/proc/net/\(table)", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count >= 10, let inode = UInt64(fields[9]) { listening.append(inode) }
            }
        }
        #expect(!ListeningSockets.process(lifeguard.lifeguardPID, holdsAnyOf: listening))
        // It does hold a socket: the notify socket, a bound datagram socket (nothing listens on it).
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(lifeguard.lifeguardPID)/fd")
        #expect(fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(lifeguard.lifeguardPID)/fd/\($0)"))?.hasPrefix("socket:") == true })
        #expect(lifeguard.exitCode() == 0)
    }

    @Test("lifeguard status: one file for people, a directory of containers as a table")
    func statusCommand() throws {
        let fleet = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: fleet) }
        let lifeguard = try Supervised(.subreaper, ["--status-file", fleet + "/db-ready/status.json", "--status-interval", "0.1",
                                                    helper, "notify-server", "0", "0.2"])
        #expect(Self.waitForState(.ready, in: fleet + "/db-ready/status.json") != nil)
        try FileManager.default.createDirectory(atPath: fleet + "/db-garbage", withIntermediateDirectories: true)
        try "{\"state\": \"rea".write(toFile: fleet + "/db-garbage/status.json", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: fleet + "/db-missing", withIntermediateDirectories: true)
        let single = try TestProcess([Binaries.lifeguard, "status", fleet + "/db-ready/status.json"])
        #expect(single.exitCode() == 0)
        #expect(single.stdout.contains("state             ready (by notify)"))
        #expect(single.stdout.contains("server status     Taking requests"))
        let json = try TestProcess([Binaries.lifeguard, "status", "--json", fleet + "/db-ready/status.json"])
        #expect(json.exitCode() == 0)
        #expect(Status(json: json.stdout)?.state == .ready)
        let table = try TestProcess([Binaries.lifeguard, "status", fleet])
        #expect(table.exitCode() == 1, "a garbage and a missing file")
        let rows = table.stdout.split(separator: "\n")
        #expect(rows.count == 4)
        #expect(rows[0].hasPrefix("NAME"))
        #expect(rows.contains { $0.hasPrefix("db-ready") && $0.contains(" ready ") })
        #expect(rows.contains { $0.hasPrefix("db-garbage") && $0.contains("missing") })
        #expect(rows.contains { $0.hasPrefix("db-missing") && $0.contains("missing") })
        lifeguard.send(SIGTERM)
        #expect(lifeguard.exitCode() == 0)
    }
}
