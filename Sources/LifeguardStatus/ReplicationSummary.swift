/// A replica's replication as the status file's `replication` entry carries it (nil: the server is not
/// a replica, or the check is off). Readiness includes it: `state` is `current` or `behind`.
public struct ReplicationSummary: Equatable, Sendable {
    public enum State: String, Sendable {
        /// Both threads run and the lag is within LIFEGUARD_MAX_REPLICA_LAG.
        case current
        /// A thread stopped, the lag is unknown, or above LIFEGUARD_MAX_REPLICA_LAG: not ready.
        case behind
    }

    public var state: State
    public var ioRunning: String?
    public var sqlRunning: String?
    /// Seconds_Behind_Master (MySQL: Seconds_Behind_Source); nil while the SQL thread is stopped.
    public var secondsBehind: UInt64?
    public var maxLag: UInt64
    /// Why it is behind, in a line.
    public var reason: String?

    public init(state: State, ioRunning: String?, sqlRunning: String?, secondsBehind: UInt64?, maxLag: UInt64, reason: String? = nil) {
        self.state = state
        self.ioRunning = ioRunning
        self.sqlRunning = sqlRunning
        self.secondsBehind = secondsBehind
        self.maxLag = maxLag
        self.reason = reason
    }

    /// "current, 0 s behind (at most 30 s)", "behind: the replica's I/O thread is No".
    public var description: String {
        switch state {
        case .current: return "current, " + (secondsBehind.map { "\($0) s" } ?? "?") + " behind (at most \(maxLag) s)"
        case .behind: return "behind: " + (reason ?? "?")
        }
    }

    public init?(json value: JSONValue) {
        guard let state = value["state"]?.string.flatMap(State.init(rawValue:)) else { return nil }
        self.state = state
        ioRunning = value["io_running"]?.string
        sqlRunning = value["sql_running"]?.string
        secondsBehind = Status.whole(value["seconds_behind"]?.number)
        maxLag = Status.whole(value["max_lag_s"]?.number) ?? 0
        reason = value["reason"]?.string
    }
}
