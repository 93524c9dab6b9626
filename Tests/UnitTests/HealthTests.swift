import Foundation
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Status, probe and readiness parsing")
struct HealthTests {
    func sampleStatus() -> Status {
        var status = Status()
        status.state = .ready
        status.lifeguardPID = 1
        status.childPID = 42
        status.command = "mariadbd"
        status.restarts = 2
        status.memoryStops = 1
        status.startedAt = WallClockTime(secondsSinceEpoch: 1_795_619_000)
        status.updatedAt = WallClockTime(secondsSinceEpoch: 1_795_619_547, nanoseconds: 123_000_000)
        status.updatedMonotonic = MonotonicInstant(nanoseconds: 5_000_000_000)
        status.bootID = "boot-a"
        status.readiness = "notify"
        status.serverStatus = "Taking your SQL requests now..."
        status.memory.cgroupVersion = "v2"
        status.memory.guardState = "on"
        status.memory.usage = 200_000_000
        status.memory.unreclaimable = 120_000_000
        status.memory.workingSet = 180_000_000
        status.memory.fileCache = 80_000_000
        status.memory.dirty = 5_000_000
        status.memory.limit = 268_435_456
        status.memory.trigger = 255_652_815
        status.memory.kernelOOMKills = 0
        status.lastEvent = Status.Event(reason: "memory_limit", at: status.updatedAt, detail: "working set \"quoted\"\n")
        status.replication = ReplicationSummary(state: .behind, ioRunning: "Connecting", sqlRunning: "Yes", secondsBehind: nil,
                                                maxLag: 30, reason: "the replica's I/O thread is Connecting")
        return status
    }

    @Test("the status JSON round-trips")
    func roundTrip() throws {
        let status = sampleStatus()
        let parsed = try #require(Status(json: status.json))
        #expect(parsed == status)
        #expect(status.json.contains("\"state\": \"ready\""))
        #expect(status.json.contains("\"soft_limit_bytes\": null"))
        // The figure the guard decides on, next to the kubelet's working set.
        #expect(status.json.contains("\"unreclaimable_bytes\": 120000000,\n    \"working_set_bytes\": 180000000,"))
        #expect(status.json.contains("\"file_cache_bytes\": 80000000,\n    \"dirty_bytes\": 5000000,"))
    }

    @Test("lifeguard status shows the unreclaimable figure against the trigger, the working set beside it")
    func statusRows() throws {
        let rows = StatusCommand.rows(for: sampleStatus(), age: .seconds(1))
        let value = { (key: String) in rows.first { $0.0 == key }?.1 }
        #expect(value("unreclaimable") == "114.4 MiB (46% of the trigger)")
        #expect(value("working set")?.hasPrefix("171.6 MiB (the kubelet's figure") == true)
        #expect(value("usage") == "190.7 MiB, page cache 76.2 MiB (dirty 4.7 MiB)")
        let (row, problem) = StatusCommand.tableRow(name: "db-1", status: sampleStatus(), age: .seconds(1))
        #expect(row[2] == "114.4 MiB (46%)" && row[3] == "171.6 MiB" && !problem)
    }

    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID()).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Found by the fuzzer (scripts/fuzz): a number too large for its field used to trap the probe.
    @Test("a status file with numbers out of range: read without a crash, the fields refused")
    func outOfRangeNumbers() {
        let text = """
            {"state":"ready","updated_at":"2026-11-25T16:05:12.031Z","pid":-1e300,"child_pid":1e30,"restarts":8e30,
             "memory_stops":-1,"updated_monotonic_ns":1e40,"status_interval_s":1e300,"exit_code":1e10,
             "memory":{"usage_bytes":1e30,"working_set_bytes":-5,"trigger_bytes":0.5,"limit_bytes":1e19}}
            """
        let status = Status(json: text)
        #expect(status != nil)
        #expect(status?.lifeguardPID == 0 && status?.childPID == nil && status?.restarts == 0 && status?.memoryStops == 0)
        #expect(status?.updatedMonotonic == nil && status?.exitCode == nil && status?.statusInterval == .seconds(2))
        #expect(status?.memory.usage == nil && status?.memory.workingSet == nil && status?.memory.trigger == 0)
        #expect(status?.memory.limit == 10_000_000_000_000_000_000)
        // An injected clock: a minute after the file's updated_at (no boot id: the wall clock decides).
        let minuteLater = WallClockTime(secondsSinceEpoch: 1_795_622_772, nanoseconds: 31_000_000)
        #expect(minuteLater.rfc3339() == "2026-11-25T16:06:12.031Z")
        let verdict = ProbeCommand.verdict(text: text, path: "/status.json", mode: .live, maxAge: nil, currentBootID: nil,
                                           now: MonotonicInstant(nanoseconds: 1), wallNow: minuteLater)
        #expect(!verdict.passed)  // stale: 60 s old, the default maximum age is 10 s
        #expect(StatusCommand.percent(UInt64.max, of: 1, nil) == " (99999%)")
    }

    @Test("probe: missing, empty, garbage and truncated files fail, in both modes")
    func probeBadFiles() throws {
        let json = sampleStatus().json
        for text in ["", "garbage", String(json.prefix(json.count / 2)), "{\"state\": \"ready\"}", "{\"state\": \"sleeping\", \"updated_at\": \"2026-11-25T15:12:27Z\"}"] {
            let path = try write(text)
            for mode in [ProbeCommand.Mode.live, .ready] {
                let verdict = ProbeCommand.evaluate(path: path, mode: mode, maxAge: nil, currentBootID: "boot-a",
                                                    now: MonotonicInstant(nanoseconds: 5_000_000_000))
                #expect(!verdict.passed, "\(text.prefix(30))")
                #expect(verdict.message.contains("not a Lifeguard status file"))
            }
        }
        let missing = ProbeCommand.evaluate(path: "/nonexistent/status.json", mode: .live, maxAge: nil)
        #expect(!missing.passed && missing.message.contains("no status file"))
    }

    @Test("probe: staleness on CLOCK_MONOTONIC on the same boot, wall clock otherwise")
    func probeStaleness() throws {
        let path = try write(sampleStatus().json)
        let fresh = MonotonicInstant(nanoseconds: 5_000_000_000 + 3_000_000_000)
        #expect(ProbeCommand.evaluate(path: path, mode: .ready, maxAge: nil, currentBootID: "boot-a", now: fresh).passed)
        let stale = MonotonicInstant(nanoseconds: 5_000_000_000 + 11_000_000_000)
        let verdict = ProbeCommand.evaluate(path: path, mode: .live, maxAge: nil, currentBootID: "boot-a", now: stale)
        #expect(!verdict.passed && verdict.message.contains("stale, updated 11 s ago"))
        #expect(ProbeCommand.evaluate(path: path, mode: .live, maxAge: .seconds(30), currentBootID: "boot-a", now: stale).passed)
        // A wall-clock jump does not make a fresh file stale: monotonic time decides.
        let jumped = WallClockTime(secondsSinceEpoch: 1_795_619_547 + 3600)
        #expect(ProbeCommand.evaluate(path: path, mode: .live, maxAge: nil, currentBootID: "boot-a", now: fresh, wallNow: jumped).passed)
        // Another boot: the wall clock decides.
        #expect(!ProbeCommand.evaluate(path: path, mode: .live, maxAge: nil, currentBootID: "boot-b", now: fresh, wallNow: jumped).passed)
        let soon = WallClockTime(secondsSinceEpoch: 1_795_619_549)
        #expect(ProbeCommand.evaluate(path: path, mode: .live, maxAge: nil, currentBootID: "boot-b", now: fresh, wallNow: soon).passed)
    }

    @Test("probe: --live passes while starting and stopping, --ready only when ready, exited fails both")
    func probeStates() throws {
        let now = MonotonicInstant(nanoseconds: 5_000_000_000)
        for (state, live, ready) in [(ServiceState.starting, true, false), (.ready, true, true), (.stopping, true, false),
                                      (.restarting, true, false), (.exited, false, false)] {
            var status = sampleStatus()
            status.state = state
            let path = try write(status.json)
            #expect(ProbeCommand.evaluate(path: path, mode: .live, maxAge: nil, currentBootID: "boot-a", now: now).passed == live, "\(state)")
            #expect(ProbeCommand.evaluate(path: path, mode: .ready, maxAge: nil, currentBootID: "boot-a", now: now).passed == ready, "\(state)")
        }
    }

    @Test("JSON: values, escapes, surrogate pairs, and rejection of malformed text")
    func json() {
        #expect(JSONValue.parse(#"{"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00"}"#) ==
                .object([("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null])), ("b", .string("x\"\\/\né😀"))]))
        #expect(JSONValue.parse(" {} ") == .object([]))
        for bad in ["", "{", "{\"a\"}", "[1,]", "{\"a\":1,}", "\"\\ud83d\"", "tru", "01x", "{\"a\":1} x", "\"a\u{1}\"", "nan",
                    String(repeating: "[", count: 40) + String(repeating: "]", count: 40)] {
            #expect(JSONValue.parse(bad) == nil, "\(bad)")
        }
        // Random bytes never crash the parser.
        var generator = SplitMix64(seed: 42)
        let alphabet = Array("{}[]\",:0123456789.eE-+truefalsnl \\u".utf8)
        for _ in 0..<3000 {
            let bytes = (0..<Int(generator.next() % 40)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            _ = JSONValue.parse(String(decoding: bytes, as: UTF8.self))
        }
    }

    @Test("notify messages")
    func notifyMessages() {
        let message = NotifyMessage(Array("READY=1\nSTATUS=Taking your SQL requests now...\nMAINPID=42\nWATCHDOG=1\n".utf8))
        #expect(message.ready && !message.stopping)
        #expect(message.status == "Taking your SQL requests now...")
        #expect(message.mainPID == 42)
        #expect(NotifyMessage(Array("STOPPING=1".utf8)).stopping)
        #expect(!NotifyMessage(Array("READY=0\nREADY\n=1\n".utf8)).ready)
        #expect(NotifyMessage(Array("STATUS=a=b".utf8)).status == "a=b")
        #expect(NotifyMessage(Array("STATUS=".utf8) + Array(repeating: UInt8(ascii: "x"), count: 500)).status?.count == 200)
    }

    @Test("MySQL greetings: handshake, error packets, partial and garbage input")
    func greetings() {
        var handshake: [UInt8] = [0, 0, 0, 0, 10] + Array("5.5.5-10.11.19-MariaDB".utf8) + [0, 1, 2, 3]
        handshake[0] = UInt8(handshake.count - 4)
        #expect(MySQLGreeting.parse(handshake) == .packet(.handshake(protocolVersion: 10, serverVersion: "5.5.5-10.11.19-MariaDB")))
        #expect(MySQLGreeting.parse(Array(handshake.prefix(10))) == .incomplete)
        #expect(MySQLGreeting.parse([]) == .incomplete)
        var error: [UInt8] = [0, 0, 0, 0, 0xFF, 0x10, 0x04] + Array("#08004Too many connections".utf8)
        error[0] = UInt8(error.count - 4)
        #expect(MySQLGreeting.parse(error) == .packet(.error(code: 1040, message: "Too many connections")))
        #expect(MySQLGreeting.parse(Array("HTTP/1.1 400 Bad Request\r\n".utf8)) == .invalid)
        #expect(MySQLGreeting.parse([5, 0, 0, 0, 9, 1, 2, 3, 4]) == .invalid)
    }

    @Test("ready addresses and the command's --socket")
    func readyAddresses() {
        #expect(ReadyAddress("/run/mysqld/mysqld.sock") == .unix("/run/mysqld/mysqld.sock"))
        #expect(ReadyAddress("127.0.0.1:3306") == .tcp(host: "127.0.0.1", port: 3306))
        #expect(ReadyAddress("[::1]:3306") == .tcp(host: "::1", port: 3306))
        #expect(ReadyAddress("none") == ReadyAddress.none)
        for bad in ["", "localhost:3306", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "db:3306", "mysqld.sock", "1.2.3:4"] {
            #expect(ReadyAddress(bad) == nil, "\(bad)")
        }
        #expect(ReadyAddress.default(forCommand: ["mysqld", "--socket=/tmp/s.sock"]) == .unix("/tmp/s.sock"))
        #expect(ReadyAddress.default(forCommand: ["docker-entrypoint.sh", "mysqld", "--socket", "/tmp/t.sock"]) == .unix("/tmp/t.sock"))
        #expect(ReadyAddress.default(forCommand: ["mysqld"]) == .unix("/var/run/mysqld/mysqld.sock"))
    }

    @Test("listening sockets from /proc/net/unix and /proc/net/tcp text")
    func listeningSockets() {
        let unix = """
            Num       RefCount Protocol Flags    Type St Inode Path
            0000000000000000: 00000002 00000000 00010000 0001 01 4242 /run/mysqld/mysqld.sock
            0000000000000000: 00000003 00000000 00000000 0001 03 4243 /run/mysqld/mysqld.sock
            0000000000000000: 00000002 00000000 00010000 0002 01 4244 /run/mysqld/mysqld.sock
            0000000000000000: 00000002 00000000 00010000 0001 01 4245 /other.sock
            0000000000000000: 00000002 00000000 00000000 0002 01 4246
            """
        #expect(ListeningSockets.unixInodes(boundAt: "/run/mysqld/mysqld.sock", in: unix) == [4242])
        let tcp = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 777 1 0000000000000000 100 0 0 10 0
               1: 0100007F:0CEA 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   999        0 778 1 0000000000000000 100 0 0 10 0
               2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 779 1 0000000000000000 100 0 0 10 0
            """
        #expect(ListeningSockets.tcpInodes(port: 3306, in: tcp) == [777])
        #expect(ListeningSockets.tcpInodes(port: 8080, in: tcp) == [779])
        #expect(ListeningSockets.unixInodes(boundAt: "/x", in: "garbage\n\n") == [])
    }

    @Test("metrics text")
    func metrics() {
        let text = MetricsText.render(sampleStatus())
        #expect(text.contains("lifeguard_state{state=\"ready\"} 1\n"))
        #expect(text.contains("lifeguard_state{state=\"starting\"} 0\n"))
        #expect(text.contains("lifeguard_memory_trigger_bytes 255652815\n"))
        #expect(text.contains("lifeguard_memory_unreclaimable_bytes 120000000\n"))
        #expect(text.contains("lifeguard_memory_working_set_bytes 180000000\n"))
        #expect(text.contains("lifeguard_memory_file_cache_bytes 80000000\n"))
        #expect(text.contains("lifeguard_memory_dirty_bytes 5000000\n"))
        #expect(text.contains("lifeguard_restarts_total 2\n"))
        #expect(!text.contains("lifeguard_memory_soft_limit_bytes"))  // unknown: no sample
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.hasPrefix("lifeguard_") && line.split(separator: " ").count == 2, "\(line)")
        }
    }

    @Test("metrics text: every sample carries the container's instance, escaped; the status file too")
    func metricsInstance() throws {
        var status = sampleStatus()
        status.instance = "db-1"
        let text = MetricsText.render(status)
        #expect(text.contains("lifeguard_state{instance=\"db-1\",state=\"ready\"} 1\n"))
        #expect(text.contains("lifeguard_restarts_total{instance=\"db-1\"} 2\n"))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.hasPrefix("lifeguard_") && line.contains("{instance=\"db-1\""), "\(line)")
        }
        #expect(MetricsText.labelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        #expect(Status(json: status.json)?.instance == "db-1")
    }

    @Test("sizes and ages for people")
    func humanFormats() {
        #expect(ByteCount.describe(255_652_815) == "243.8 MiB")
        #expect(ByteCount.describe(512) == "512 B")
        #expect(ByteCount.describe(nil) == "-")
        #expect(StatusAge.describe(.milliseconds(850)) == "850 ms")
        #expect(StatusAge.describe(.seconds(184)) == "3 min 4 s")
        #expect(StatusAge.describe(.seconds(7500)) == "2 h 5 min")
    }
}

@Suite("Readiness and RESTART transitions")
struct ReadinessTransitionTests {
    let t0 = MonotonicInstant(nanoseconds: 0)

    @Test("ready once per child; STOPPING=1 makes it stopping; a new child starts over")
    func readiness() {
        var machine = Supervisor(settings: .init())
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 10, now: t0)
        #expect(machine.serviceState == .starting)
        #expect(machine.readinessReached(.handshake, now: t0) == ActionList(.endReadiness, .report(.ready(.handshake))))
        #expect(machine.readinessReached(.notify, now: t0).isEmpty)
        #expect(machine.serviceState == .ready && machine.readiness == .handshake)
        #expect(machine.childNotifiedStopping(now: t0) == ActionList(.report(.serverStopping)))
        #expect(machine.serviceState == .stopping)
        #expect(machine.readinessReached(.notify, now: t0).isEmpty)
    }

    @Test("exit code 16 restarts at once; the cap still applies")
    func restartStatement() {
        var machine = Supervisor(settings: .init(maxRestarts: 2))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 10, now: t0)
        let first = machine.childrenReaped([ReapedProcess(pid: 10, status: .exited(16))], noChildrenLeft: true, now: t0)
        var expected = ActionList(.checkOOMKills, .stopSampling, .endReadiness, .report(.childExited(pid: 10, status: .exited(16))))
        expected.append(.report(.restartRequested(exitCode: 16)))
        expected.append(.report(.restartScheduled(delay: .zero, restarts: 1)))
        expected.append(.spawn)
        #expect(first == expected)
        _ = machine.spawned(pid: 11, now: t0)
        let second = machine.childrenReaped([ReapedProcess(pid: 11, status: .exited(16))], noChildrenLeft: true, now: t0)
        #expect(second.last == .spawn, "no backoff for RESTART")
        _ = machine.spawned(pid: 12, now: t0)
        let third = machine.childrenReaped([ReapedProcess(pid: 12, status: .exited(16))], noChildrenLeft: true, now: t0)
        #expect(third.last == .exit(75))
    }

    @Test("after SIGTERM, exit code 16 is an exit, not a restart")
    func restartAfterStop() {
        var machine = Supervisor(settings: .init())
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 10, now: t0)
        _ = machine.signalReceived(.terminate, now: t0)
        #expect(machine.childrenReaped([ReapedProcess(pid: 10, status: .exited(16))], noChildrenLeft: true, now: t0).last == .exit(16))
    }
}
