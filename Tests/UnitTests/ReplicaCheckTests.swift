import LifeguardMySQL
@testable import LifeguardStatus
@testable import LifeguardSupervisor
import LifeguardSystem
import Testing

/// A replica's readiness: what SHOW SLAVE STATUS (MySQL: SHOW REPLICA STATUS) says, the schedule of
/// the question, each change said once, and the state machine and probe's side of it.
@Suite("Replica readiness")
struct ReplicaCheckTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    /// MariaDB's column names, in its order (the ones read, and some around them).
    let mariadb = ["Slave_IO_State", "Master_Host", "Slave_IO_Running", "Slave_SQL_Running", "Last_Error",
                   "Seconds_Behind_Master", "Last_IO_Error", "Last_SQL_Error", "Gtid_Slave_Pos"]
    let mysql = ["Replica_IO_State", "Source_Host", "Replica_IO_Running", "Replica_SQL_Running", "Last_Error",
                 "Seconds_Behind_Source", "Last_IO_Error", "Last_SQL_Error", "Executed_Gtid_Set"]

    func row(io: String?, sql: String?, behind: String?, ioError: String = "", sqlError: String = "") -> [String?] {
        ["Waiting for master to send event", "mysql-0.mysql", io, sql, sqlError, behind, ioError, sqlError, "0-1-42"]
    }

    @Test("what the answer says: current, each way of being behind, not a replica; MariaDB's and MySQL's names")
    func reading() throws {
        let current = try #require(ReplicaCheck.reading(columns: mariadb, rows: [row(io: "Yes", sql: "Yes", behind: "3")], maxLag: 30))
        #expect(current.state == .current && current.secondsBehind == 3 && current.reason == nil)
        #expect(ReplicaCheck.reading(columns: mysql, rows: [row(io: "Yes", sql: "Yes", behind: "30")], maxLag: 30)?.state == .current,
                "at the limit is still current")
        let lagging = try #require(ReplicaCheck.reading(columns: mysql, rows: [row(io: "Yes", sql: "Yes", behind: "31")], maxLag: 30))
        #expect(lagging.state == .behind && lagging.reason == "31 s behind the primary, more than 30 s")
        let connecting = try #require(ReplicaCheck.reading(columns: mariadb, rows: [row(io: "Connecting", sql: "Yes", behind: nil,
                                                                                        ioError: "error connecting to master")], maxLag: 30))
        #expect(connecting.state == .behind && connecting.reason == "the replica's I/O thread is Connecting: error connecting to master")
        let stopped = try #require(ReplicaCheck.reading(columns: mariadb, rows: [row(io: "Yes", sql: "No", behind: nil,
                                                                                     sqlError: "Duplicate entry '7'")], maxLag: 30))
        #expect(stopped.reason == "the replica's SQL thread is No: Duplicate entry '7'" && stopped.sqlRunning == "No")
        #expect(ReplicaCheck.reading(columns: mariadb, rows: [row(io: "Yes", sql: "Yes", behind: nil)], maxLag: 30)?.reason
                == "its lag is unknown")
        #expect(ReplicaCheck.reading(columns: mariadb, rows: [], maxLag: 30) == nil, "no replication configured: not a replica")
        #expect(ReplicaCheck.reading(columns: ["Something_Else"], rows: [["x"]], maxLag: 30)?.state == .behind,
                "an answer it cannot read is not taken for a current replica")
        #expect(ReplicaCheck.sql(for: .mariadb) == "SHOW SLAVE STATUS" && ReplicaCheck.sql(for: .mysql) == "SHOW REPLICA STATUS")
    }

    @Test("asked at once when ready, then every interval; overdue after the timeout; each change said once; an error changes nothing")
    func schedule() {
        var check = ReplicaCheck(maxLag: 10, interval: .seconds(5), timeout: .seconds(2))
        #expect(!check.askDue(now: t0), "nothing before the server is ready")
        check.begin(now: t0)
        #expect(check.askDue(now: t0) && check.nextWake(canSend: true) == t0 && check.nextWake(canSend: false) == nil)
        check.asked(now: t0)
        #expect(!check.askDue(now: t0) && check.isAsking && !check.overdue(now: t0 + .seconds(1)) && check.overdue(now: t0 + .seconds(2)))
        let behind = ClientSession.QueryResult.rows(columns: mariadb, rows: [row(io: "Yes", sql: "Yes", behind: "11")])
        let current = ClientSession.QueryResult.rows(columns: mariadb, rows: [row(io: "Yes", sql: "Yes", behind: "0")])
        #expect(check.answered(behind, now: t0) == .behind("11 s behind the primary, more than 10 s"))
        #expect(!check.askDue(now: t0 + .seconds(4)) && check.askDue(now: t0 + .seconds(5)))
        check.asked(now: t0)
        #expect(check.answered(behind, now: t0) == nil, "said once")
        check.asked(now: t0)
        #expect(check.answered(.error(ServerError(code: 1227, message: "Access denied; you need SLAVE MONITOR")), now: t0) == nil)
        #expect(check.unanswerable == "1227 Access denied; you need SLAVE MONITOR" && check.summary?.state == .behind,
                "what it does not know leaves the verdict as it was")
        check.asked(now: t0)
        #expect(check.answered(current, now: t0) == .current && check.unanswerable == nil)
        check.asked(now: t0)
        #expect(check.answered(behind, now: t0) == .behind("11 s behind the primary, more than 10 s"))
        check.asked(now: t0)
        #expect(check.answered(.rows(columns: mariadb, rows: []), now: t0) == .current, "replication removed: not a replica, ready")
        #expect(check.summary == nil)
        check.asked(now: t0)
        check.unanswered(now: t0)
        #expect(!check.isAsking && check.askDue(now: t0 + .seconds(5)))
        check.end()
        #expect(!check.askDue(now: t0 + .seconds(60)) && check.nextWake(canSend: true) == nil)
    }

    @Test("the state machine: ready → replica_behind → ready; never before ready; a new child starts afresh; unresponsive says more")
    func machine() {
        var machine = Supervisor(settings: .init(gracePeriod: .seconds(60)))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 42, now: t0)
        #expect(machine.replicaFellBehind("x", now: t0).isEmpty, "not ready yet")
        _ = machine.readinessReached(.notify, now: t0)
        #expect(machine.replicaFellBehind("31 s behind", now: t0) == ActionList(.report(.replicaBehind(reason: "31 s behind"))))
        #expect(machine.serviceState == .replicaBehind && machine.replicaFellBehind("y", now: t0).isEmpty)
        _ = machine.serverUnresponsive(failures: 3, now: t0)
        #expect(machine.serviceState == .unresponsive)
        _ = machine.serverAnswering(now: t0)
        #expect(machine.serviceState == .replicaBehind)
        #expect(machine.replicaCaughtUp(now: t0) == ActionList(.report(.replicaCurrent)))
        #expect(machine.serviceState == .ready && machine.replicaCaughtUp(now: t0).isEmpty)
        _ = machine.replicaFellBehind("z", now: t0)
        _ = machine.signalReceived(.terminate, now: t0)
        #expect(machine.serviceState == .stopping)
    }

    @Test("the probe: replica_behind fails --ready, saying why, and passes --live")
    func probe() {
        var status = Status()
        status.state = .replicaBehind
        status.replication = ReplicationSummary(state: .behind, ioRunning: "No", sqlRunning: "Yes", secondsBehind: nil, maxLag: 30,
                                                reason: "the replica's I/O thread is No")
        let (ready, live) = ResponseCheckTests.probes(status, now: t0)
        #expect(!ready.passed && ready.message == "not ready: the command is replica_behind: the replica's I/O thread is No")
        #expect(live.passed)
    }
}

/// Who Lifeguard's own connection logs in as: the account name must be the OS user the server sees.
@Suite("Lifeguard's account")
struct ServerAccountTests {
    let database = UserDatabase(passwd: "root:x:0:0:root:/root:/bin/bash\nmysql:x:999:999::/var/lib/mysql:/bin/false\n"
                                    + "lifeguard:x:998:998::/nonexistent:/usr/sbin/nologin\n", group: "")

    @Test("root becomes lifeguard; the server's user (a pod's runAsUser) is itself; a uid with no name keeps lifeguard")
    func account() {
        let root = ServerLink.account(database: database, effectiveUserID: 0)
        #expect(root.user == "lifeguard" && root.peerUserID == 998)
        let mysql = ServerLink.account(database: database, effectiveUserID: 999)
        #expect(mysql.user == "mysql" && mysql.peerUserID == nil)
        let nameless = ServerLink.account(database: database, effectiveUserID: 1000)
        #expect(nameless.user == "lifeguard" && nameless.peerUserID == nil)
        let noLifeguard = ServerLink.account(database: UserDatabase(passwd: "root:x:0:0:root:/root:/bin/bash\n", group: ""), effectiveUserID: 0)
        #expect(noLifeguard.user == "lifeguard" && noLifeguard.peerUserID == nil)
    }
}

extension ReplicaCheckTests {
    @Test("metrics and lifeguard status carry the replica's state and lag; nothing when not a replica")
    func shown() {
        var status = Status()
        status.instance = "mysql-1"
        status.state = .replicaBehind
        status.replication = ReplicationSummary(state: .behind, ioRunning: "Yes", sqlRunning: "Yes", secondsBehind: 42, maxLag: 30,
                                                reason: "42 s behind the primary, more than 30 s")
        let metrics = MetricsText.render(status)
        #expect(metrics.contains("lifeguard_replica_current{instance=\"mysql-1\"} 0\n"))
        #expect(metrics.contains("lifeguard_replica_seconds_behind{instance=\"mysql-1\"} 42\n"))
        #expect(metrics.contains("lifeguard_state{instance=\"mysql-1\",state=\"replica_behind\"} 1\n"))
        let rows = StatusCommand.rows(for: status, age: .seconds(1))
        #expect(rows.contains { $0 == ("replication", "behind: 42 s behind the primary, more than 30 s") })
        status.replication = ReplicationSummary(state: .current, ioRunning: "Yes", sqlRunning: "Yes", secondsBehind: 0, maxLag: 30)
        #expect(MetricsText.render(status).contains("lifeguard_replica_current{instance=\"mysql-1\"} 1\n"))
        #expect(StatusCommand.rows(for: status, age: .seconds(1)).contains { $0 == ("replication", "current, 0 s behind (at most 30 s)") })
        status.replication = nil
        #expect(!MetricsText.render(status).contains("lifeguard_replica_"))
    }
}

extension ReplicaCheckTests {
    @Test("a ready server is shown starting until the first answer, at most one timeout; nothing held when the link cannot ask")
    func firstAnswer() {
        var check = ReplicaCheck(maxLag: 30, interval: .seconds(5), timeout: .seconds(2))
        #expect(!check.awaitingFirstAnswer(now: t0))
        check.begin(now: t0)
        #expect(check.awaitingFirstAnswer(now: t0 + .seconds(1)) && !check.awaitingFirstAnswer(now: t0 + .seconds(2)))
        check.asked(now: t0)
        _ = check.answered(.rows(columns: mariadb, rows: []), now: t0 + .milliseconds(3))
        #expect(!check.awaitingFirstAnswer(now: t0 + .milliseconds(3)), "not a replica: ready at once")
        check.begin(now: t0)
        check.unanswered(now: t0)
        #expect(!check.awaitingFirstAnswer(now: t0), "the link cannot ask: nothing held")
        check.begin(now: t0)
        check.end()
        #expect(!check.awaitingFirstAnswer(now: t0))
    }
}
