import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

/// The shed's decisions, step by step, with no server: when it asks, whom it kills and how, what it
/// says once, and that a stop or the level going back down ends it.
@Suite("The shed")
struct ShedderTests {
    static let shedLevel: UInt64 = 230_000_000
    static let minimum: UInt64 = 25_000_000
    let start = MonotonicInstant(nanoseconds: 1_000_000_000_000)

    /// A shedder that saw the server at its usual level a second before `start`: what crosses the shed
    /// level now has just appeared.
    func warmed() -> Shedder {
        var shedder = Shedder()
        #expect(shedder.observe(level: 150_000_000, shedLevel: Self.shedLevel, minimum: Self.minimum,
                                now: MonotonicInstant(nanoseconds: start.nanoseconds - 1_000_000_000), canAsk: true).isEmpty)
        return shedder
    }

    func runaway(id: UInt64 = 42, command: String = "Query", memory: UInt64 = 150_000_000) -> Shedder.Candidate {
        Shedder.Candidate(id: id, user: "app", host: "localhost", database: "shop", command: command, seconds: 3, memory: memory)
    }

    @Test("below the level: nothing; crossing it: one question; the largest statement is killed; back below: the episode ends")
    func episode() {
        var shedder = warmed()
        #expect(shedder.observe(level: Self.shedLevel - 1, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true).isEmpty)
        let crossing = shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        #expect(crossing == [.began(level: Self.shedLevel, shedLevel: Self.shedLevel), .lookForRunaway])
        // A question in flight: later samples ask nothing more.
        #expect(shedder.observe(level: Self.shedLevel + 1, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start + .milliseconds(1), canAsk: false).isEmpty)
        let found = shedder.found(runaway(), minimum: Self.minimum, now: start + .milliseconds(2))
        #expect(found == [.kill(runaway(), .query)])
        #expect(shedder.killAnswered(error: nil, now: start + .milliseconds(3)) == [.killed(runaway(), .query)])
        #expect(shedder.totalKills == 1)
        // Cooling down: no question until the cool-down is over.
        #expect(shedder.nextWake == start + .milliseconds(3) + .seconds(1))
        #expect(shedder.observe(level: Self.shedLevel + 1, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start + .milliseconds(500), canAsk: true).isEmpty)
        let ended = shedder.observe(level: Self.shedLevel - 1, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start + .milliseconds(600), canAsk: true)
        #expect(ended == [.ended(seconds: 0.6, kills: 1)])
        #expect(!shedder.isShedding && shedder.nextWake == nil)
    }

    @Test("an idle connection holding memory, or a statement already killed that is still the largest: KILL CONNECTION")
    func escalation() {
        var shedder = warmed()
        _ = shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        #expect(shedder.found(runaway(command: "Sleep"), minimum: Self.minimum, now: start) == [.kill(runaway(command: "Sleep"), .connection)])
        _ = shedder.killAnswered(error: nil, now: start)

        var again = warmed()
        _ = again.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        _ = again.found(runaway(), minimum: Self.minimum, now: start)
        _ = again.killAnswered(error: nil, now: start)
        let later = start + .seconds(1)
        #expect(again.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: later, canAsk: true) == [.lookForRunaway])
        #expect(again.found(runaway(), minimum: Self.minimum, now: later) == [.kill(runaway(), .connection)])
        // Another connection is the largest: its statement, not its connection.
        var other = warmed()
        _ = other.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        _ = other.found(runaway(), minimum: Self.minimum, now: start)
        _ = other.killAnswered(error: nil, now: start)
        _ = other.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: later, canAsk: true)
        #expect(other.found(runaway(id: 43), minimum: Self.minimum, now: later) == [.kill(runaway(id: 43), .query)])
    }

    @Test("nobody holds the minimum: said once an episode, nothing killed, asked again after the cool-down")
    func nothingToShed() {
        var shedder = warmed()
        let small = runaway(memory: Self.minimum - 1)
        _ = shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        #expect(shedder.found(small, minimum: Self.minimum, now: start) == [.nothingToShed(largest: small, minimum: Self.minimum)])
        #expect(shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start + .seconds(1), canAsk: true) == [.lookForRunaway])
        #expect(shedder.found(nil, minimum: Self.minimum, now: start + .seconds(1)).isEmpty, "said once")
        #expect(shedder.totalKills == 0)
    }

    @Test("no answer in time: said once, the connection dropped; a refused kill (the statement ended by itself) is not counted")
    func failures() {
        var shedder = warmed()
        _ = shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        let late = start + Shedder.Settings().answerTimeout
        #expect(shedder.nextWake == late)
        #expect(shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: late, canAsk: false)
                == [.failed(reason: "no answer within 2.0 seconds"), .dropConnection])
        // The answer that comes after all is ignored: the question was abandoned.
        #expect(shedder.found(runaway(), minimum: Self.minimum, now: late).isEmpty)
        let retry = late + .seconds(1)
        #expect(shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: retry, canAsk: true) == [.lookForRunaway])
        _ = shedder.found(runaway(), minimum: Self.minimum, now: retry)
        #expect(shedder.killAnswered(error: "1094 Unknown thread id: 42", now: retry).isEmpty, "a failure is said once an episode")
        #expect(shedder.totalKills == 0)
        #expect(shedder.questionFailed("lost", now: retry).isEmpty, "no question in flight")
    }

    @Test("only memory that has just appeared: a level that has been above the shed level for ten seconds is left to the stop")
    func steadyState() {
        var shedder = Shedder()
        // The server sits at the shed level: an episode, but nothing to look for.
        #expect(shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
                == [.began(level: Self.shedLevel, shedLevel: Self.shedLevel)])
        for second in 1...20 {
            #expect(shedder.observe(level: Self.shedLevel + 1_000_000, shedLevel: Self.shedLevel, minimum: Self.minimum,
                                    now: start + .seconds(second), canAsk: true).isEmpty)
        }
        // A rise of the minimum within ten seconds: look.
        #expect(shedder.observe(level: Self.shedLevel + Self.minimum + 1_000_000, shedLevel: Self.shedLevel, minimum: Self.minimum,
                                now: start + .seconds(21), canAsk: true) == [.lookForRunaway])
        // A slow creep of the minimum over more than ten seconds: never looked for.
        var creeping = Shedder()
        for second in 0...30 {
            let level = Self.shedLevel + UInt64(second) * Self.minimum / 20
            let actions = creeping.observe(level: level, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start + .seconds(second), canAsk: true)
            #expect(!actions.contains(.lookForRunaway), "second \(second)")
        }
    }

    /// Within ten seconds of the clock's zero (a VM just booted), empty slots must not read as a low of 0.
    @Test("the trailing low: empty slots are no samples, even in the clock's first ten seconds")
    func trailingLowNearZero() {
        var shedder = Shedder()
        let early = MonotonicInstant(nanoseconds: 3_000_000_000)
        #expect(shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: early, canAsk: true)
                == [.began(level: Self.shedLevel, shedLevel: Self.shedLevel)], "nothing has just appeared")
    }

    @Test("a stop abandons everything: the answer to a question in flight is ignored, the next crossing is a new episode")
    func abandon() {
        var shedder = warmed()
        _ = shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: true)
        shedder.abandon()
        #expect(!shedder.isShedding && shedder.nextWake == nil)
        #expect(shedder.found(runaway(), minimum: Self.minimum, now: start).isEmpty)
        #expect(shedder.observe(level: Self.shedLevel, shedLevel: Self.shedLevel, minimum: Self.minimum, now: start, canAsk: false)
                == [.began(level: Self.shedLevel, shedLevel: Self.shedLevel)], "nothing asked while the link cannot")
    }

    @Test("the server's answer: a MariaDB row, a MySQL SUM, no row, and rows Lifeguard will not act on")
    func answers() {
        let row: [String?] = ["42", "app", "localhost", "shop", "Query", "3", "150000000"]
        #expect(RunawayQuery.candidate(from: [row]) == .success(runaway()))
        #expect(RunawayQuery.candidate(from: [["42", "app", "localhost", nil, "Sleep", nil, "150000000.0000"]])
                == .success(Shedder.Candidate(id: 42, user: "app", host: "localhost", database: nil, command: "Sleep", seconds: 0, memory: 150_000_000)))
        #expect(RunawayQuery.candidate(from: [["7", "app", "h", nil, "Query", "1", "-4096"]]).map { $0?.memory } == .success(0))
        #expect(RunawayQuery.candidate(from: []) == .success(nil))
        #expect(throws: RunawayQuery.ParseError.self) { try RunawayQuery.candidate(from: [[nil, "app", "h", nil, "Query", "1", "5"]]).get() }
        #expect(throws: RunawayQuery.ParseError.self) { try RunawayQuery.candidate(from: [["0", "app", "h", nil, "Query", "1", "5"]]).get() }
        #expect(throws: RunawayQuery.ParseError.self) { try RunawayQuery.candidate(from: [["1", "app", "h", nil, "Query", "1", "lots"]]).get() }
        #expect(throws: RunawayQuery.ParseError.self) { try RunawayQuery.candidate(from: [["1", "app"]]).get() }
        #expect(RunawayQuery.kill(runaway(), .query) == "KILL QUERY 42")
        #expect(RunawayQuery.kill(runaway(), .connection) == "KILL CONNECTION 42")
    }

    @Test("the flavour from the greeting, and each flavour's question never names the query text")
    func flavours() {
        #expect(RunawayQuery.Flavor(serverVersion: "5.5.5-10.11.19-MariaDB-0+deb12u1") == .mariadb)
        #expect(RunawayQuery.Flavor(serverVersion: "11.4.2-MariaDB") == .mariadb)
        #expect(RunawayQuery.Flavor(serverVersion: "8.0.36") == .mysql)
        #expect(RunawayQuery.Flavor(serverVersion: "8.4.0-commercial") == .mysql)
        for flavor in [RunawayQuery.Flavor.mariadb, .mysql] {
            let sql = RunawayQuery.sql(for: flavor)
            #expect(!sql.contains("INFO") && !sql.contains("SQL_TEXT"), "no statement text is read")
            #expect(sql.contains("CONNECTION_ID()") && sql.contains("'lifeguard'") && sql.contains("'Binlog Dump'") && sql.contains("LIMIT 1"))
        }
        // The same exclusions in both, and Lifeguard's own account among them.
        let commands = "NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Killed', 'Slave_IO', 'Slave_SQL', 'Slave_worker')"
        let users = "NOT IN ('system user', 'event_scheduler', '\(ServerLink.user)')"
        #expect(RunawayQuery.sql(for: .mariadb).contains("COMMAND " + commands) && RunawayQuery.sql(for: .mysql).contains("COMMAND " + commands))
        #expect(RunawayQuery.sql(for: .mariadb).contains("USER " + users) && RunawayQuery.sql(for: .mysql).contains("USER " + users))
        #expect(RunawayQuery.sql(for: .mariadb).contains("MEMORY_USED"))
        #expect(RunawayQuery.sql(for: .mysql).contains("memory_summary_by_thread_by_event_name"))
    }

    @Test("LIFEGUARD_SHED_AT and _MINIMUM: a percentage of the trigger or a size; off only for the level")
    func settings() {
        #expect(ValueParsers.shedAt("90%") == .percentOfTrigger(90))
        #expect(ValueParsers.shedAt("OFF") == .off)
        #expect(ValueParsers.shedAt("200M") == .bytes(200 * 1024 * 1024))
        #expect(ValueParsers.shedMinimum("off") == nil)
        #expect(ShedSetting.percentOfTrigger(90).resolve(trigger: 255_652_815) == 230_087_533)
        #expect(ShedSetting.off.resolve(trigger: 255_652_815) == nil)
    }

    /// In a large container samples read usage alone up to 90 % of the trigger, and usage counts page
    /// cache: the shed, which must see a level rise by its minimum, needs exact readings from its
    /// level less its minimum.
    @Test("with the shed on, samples read memory.stat from the shed level less its minimum (80 % of the trigger)")
    func exactFromTheFloor() throws {
        let tree = try FixtureTree()
        let limit: UInt64 = 8 << 30
        let trigger = Headroom.percent(5).trigger(forHardLimit: limit)
        try tree.v2Cgroup("ctr", usage: trigger / 100 * 85, inactiveFile: 1 << 30, activeFile: 0, dirty: 0, writeback: 0, max: String(limit))
        let location = CgroupLocation(version: .v2, directory: tree.root + "/ctr", mountPoint: tree.root)
        for shed in [false, true] {
            let guardian = MemoryGuard(cgroup: try CgroupMemory(location: location), trigger: .automatic, headroom: .percent(5), policy: .init())
            if shed { guardian.shedSettings = (.percentOfTrigger(90), .percentOfTrigger(10)) }
            _ = guardian.refresh(now: start)
            guardian.startSampling(now: start)
            _ = guardian.sample(now: start)
            #expect(guardian.lastReading?.isExact == shed, "shed \(shed)")
            #expect(guardian.shedLevel == (shed ? UInt64(Double(trigger) * 0.9) : nil))
        }
    }

    @Test("the status file and the metrics carry the kills and the level")
    func status() throws {
        var status = Status()
        status.shedKills = 3
        status.memory.shedLevel = 230_087_533
        status.updatedAt = WallClockTime(secondsSinceEpoch: 1_800_000_000)
        let read = try #require(Status(json: status.json))
        #expect(read.shedKills == 3 && read.memory.shedLevel == 230_087_533)
        let metrics = MetricsText.render(status)
        #expect(metrics.contains("lifeguard_shed_kills_total 3\n") && metrics.contains("lifeguard_memory_shed_level_bytes 230087533\n"))
    }
}
