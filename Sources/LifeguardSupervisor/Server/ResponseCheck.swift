import LifeguardSystem

/// Readiness that stays true: once the server is ready, Lifeguard's own connection pings it every
/// `interval` (COM_PING: answered by the connection's thread, no parsing, no table, no lock), and
/// `failuresToUnready` times in a row with no answer (a ping unanswered within `timeout`, the
/// connection lost, a reconnect refused or unanswered) make the server unresponsive; its next answer
/// makes it ready again. An answer is anything the server says, an error included: a server that
/// refuses Lifeguard's account is alive (a missing account is said by the link, never taken for a
/// wedged server). Pure: the loop feeds it what the link heard and asks it when to ping.
public struct ResponseCheck: Sendable {
    public enum Change: Equatable, Sendable {
        case unresponsive(failures: Int, reason: String)
        case answering
    }

    public var interval: Duration
    public var timeout: Duration
    public var failuresToUnready: Int
    private var nextPing: MonotonicInstant?
    private var pingSentAt: MonotonicInstant?
    public private(set) var failures = 0
    public private(set) var isUnresponsive = false

    public init(interval: Duration = .seconds(5), timeout: Duration = .seconds(5), failuresToUnready: Int = 3) {
        self.interval = interval
        self.timeout = timeout
        self.failuresToUnready = failuresToUnready
    }

    /// The server became ready (a new child, or the first time): start afresh.
    public mutating func begin(now: MonotonicInstant) {
        nextPing = now + interval
        pingSentAt = nil
        failures = 0
        isUnresponsive = false
    }

    /// The server is stopping or gone: no more pings.
    public mutating func end() {
        nextPing = nil
        pingSentAt = nil
        failures = 0
        isUnresponsive = false
    }

    /// Whether to send a ping now (the loop sends it only when the link can).
    public func pingDue(now: MonotonicInstant) -> Bool {
        guard pingSentAt == nil, let nextPing else { return false }
        return now >= nextPing
    }

    public mutating func pingSent(now: MonotonicInstant) {
        pingSentAt = now
    }

    /// A ping sent `timeout` ago with no answer: the loop drops the connection and reports `unheard`.
    public func pingOverdue(now: MonotonicInstant) -> Bool {
        pingSentAt.map { now >= $0 + timeout } ?? false
    }

    /// The server said something on Lifeguard's connection.
    public mutating func heard(now: MonotonicInstant) -> Change? {
        guard nextPing != nil else { return nil }
        pingSentAt = nil
        nextPing = now + interval
        failures = 0
        guard isUnresponsive else { return nil }
        isUnresponsive = false
        return .answering
    }

    /// An attempt or a command got no answer.
    public mutating func unheard(_ reason: String, now: MonotonicInstant) -> Change? {
        guard nextPing != nil else { return nil }
        pingSentAt = nil
        nextPing = now + interval
        failures += 1
        guard failures >= failuresToUnready, !isUnresponsive else { return nil }
        isUnresponsive = true
        return .unresponsive(failures: failures, reason: reason)
    }

    /// When the loop must look again: the ping's deadline, or the next ping when the link can send
    /// one (while it cannot, the link's own retries wake the loop).
    public func nextWake(canSend: Bool) -> MonotonicInstant? {
        if let pingSentAt { return pingSentAt + timeout }
        return canSend ? nextPing : nil
    }
}
