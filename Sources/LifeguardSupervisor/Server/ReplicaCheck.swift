import LifeguardMySQL
import LifeguardStatus
import LifeguardSystem

/// A replica's readiness: while the server is ready, Lifeguard's own connection asks its replication
/// state every `interval` (SHOW SLAVE STATUS; MySQL SHOW REPLICA STATUS), and the server is current
/// only when both threads run and the lag is at most `maxLag` seconds: the Service then sends reads
/// only to replicas that are current. A server with no replication configured is not a replica (an
/// empty answer) and this check never holds it back. Only an answer changes the verdict: a question
/// that cannot be asked (no connection, the account lacks SLAVE MONITOR) leaves readiness as it was
/// (said once by the loop), since Lifeguard never withholds a server on what it does not know. Pure:
/// the loop asks it when to ask and feeds it the answers.
public struct ReplicaCheck: Sendable {
    public enum Change: Equatable, Sendable {
        case behind(String)
        case current
    }

    /// The most seconds behind the primary a ready replica may be.
    public var maxLag: UInt64
    public var interval: Duration
    public var timeout: Duration
    /// The last answer's reading; nil: not a replica, or not asked yet.
    public private(set) var summary: ReplicationSummary?
    /// The last question could not be answered (an error): the reason, said once per change.
    public private(set) var unanswerable: String?
    private var nextAsk: MonotonicInstant?
    private var askedAt: MonotonicInstant?
    /// Until the first answer, or this instant: a replica must not be shown ready before it is known
    /// current (the answer comes milliseconds after READY=1; a server that cannot answer is not held).
    private var firstAnswerDue: MonotonicInstant?

    public init(maxLag: UInt64, interval: Duration = .seconds(5), timeout: Duration = .seconds(5)) {
        self.maxLag = maxLag
        self.interval = interval
        self.timeout = timeout
    }

    public static func sql(for flavor: RunawayQuery.Flavor) -> String {
        flavor == .mariadb ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS"
    }

    /// The server became ready: ask at once (a replica must not be ready before it is known current).
    public mutating func begin(now: MonotonicInstant) {
        nextAsk = now
        askedAt = nil
        summary = nil
        firstAnswerDue = now + timeout
    }

    public mutating func end() {
        nextAsk = nil
        askedAt = nil
        summary = nil
        firstAnswerDue = nil
    }

    /// Whether a ready server is still shown starting: no answer yet since `begin`, for at most `timeout`.
    public func awaitingFirstAnswer(now: MonotonicInstant) -> Bool {
        firstAnswerDue.map { now < $0 } ?? false
    }

    public func askDue(now: MonotonicInstant) -> Bool {
        guard askedAt == nil, let nextAsk else { return false }
        return now >= nextAsk
    }

    public mutating func asked(now: MonotonicInstant) {
        askedAt = now
    }

    /// Asked `timeout` ago with no answer: the loop drops the connection (the answer cannot be taken back).
    public func overdue(now: MonotonicInstant) -> Bool {
        askedAt.map { now >= $0 + timeout } ?? false
    }

    public var isAsking: Bool { askedAt != nil }

    public func nextWake(canSend: Bool) -> MonotonicInstant? {
        if let askedAt { return askedAt + timeout }
        return canSend ? nextAsk : nil
    }

    /// The answer to the question in flight.
    public mutating func answered(_ result: ClientSession.QueryResult, now: MonotonicInstant) -> Change? {
        askedAt = nil
        nextAsk = now + interval
        firstAnswerDue = nil
        let wasBehind = summary?.state == .behind
        switch result {
        case .rows(let columns, let rows):
            unanswerable = nil
            summary = Self.reading(columns: columns, rows: rows, maxLag: maxLag)
        case .error(let error):
            unanswerable = "\(error.code) \(error.message)"
            return nil
        case .ok:
            unanswerable = "an answer with no rows"
            return nil
        }
        let isBehind = summary?.state == .behind
        if isBehind, !wasBehind { return .behind(summary?.reason ?? "behind") }
        if !isBehind, wasBehind { return .current }
        return nil
    }

    /// The question got no answer, or cannot be asked (the connection was lost or refused, no answer
    /// in time): ask again later, and hold nothing meanwhile.
    public mutating func unanswered(now: MonotonicInstant) {
        askedAt = nil
        nextAsk = now + interval
        firstAnswerDue = nil
    }

    /// What SHOW SLAVE STATUS (or SHOW REPLICA STATUS) says; nil when no replication is configured.
    public static func reading(columns: [String], rows: [[String?]], maxLag: UInt64) -> ReplicationSummary? {
        guard let row = rows.first else { return nil }
        func value(_ names: String...) -> String? {
            for name in names { if let index = columns.firstIndex(of: name), index < row.count { return row[index] } }
            return nil
        }
        let io = value("Slave_IO_Running", "Replica_IO_Running")
        let sql = value("Slave_SQL_Running", "Replica_SQL_Running")
        let behind = value("Seconds_Behind_Master", "Seconds_Behind_Source").flatMap { UInt64($0) }
        var reason: String?
        if io != "Yes" {
            reason = "the replica's I/O thread is \(io ?? "unknown")" + Self.error(value("Last_IO_Error"))
        } else if sql != "Yes" {
            reason = "the replica's SQL thread is \(sql ?? "unknown")" + Self.error(value("Last_SQL_Error"))
        } else if let behind, behind > maxLag {
            reason = "\(behind) s behind the primary, more than \(maxLag) s"
        } else if behind == nil {
            reason = "its lag is unknown"
        }
        return ReplicationSummary(state: reason == nil ? .current : .behind, ioRunning: io, sqlRunning: sql,
                                  secondsBehind: behind, maxLag: maxLag, reason: reason)
    }

    private static func error(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "" }
        return ": " + text
    }
}
