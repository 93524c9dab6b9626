import LifeguardSystem

/// The tier between "the server limits itself" and the memory stop: when the working set crosses the
/// shed level, find the connection that holds the most memory and kill it, so that one runaway
/// session costs one statement (or one connection) instead of every connection of every application.
///
/// Pure: the loop tells it the level after each memory sample and what the server answered; it
/// answers with actions (ask the server, kill, say something). It never delays the stop: the loop
/// calls `abandon` the moment a stop begins, and nothing here waits.
///
/// Only memory that has just appeared is shed: the level must have risen by at least the minimum
/// within the last ten seconds (`TrailingLow`), and the connection must hold at least the minimum. A
/// server that sits above the shed level in its steady state, or creeps up slowly, is left to the
/// stop: the kernel would not act on it either until it reaches the limit.
///
/// Which kill: `KILL QUERY` when the connection is running a statement (measured with MariaDB 10.11:
/// a GROUP BY holding 575 MB in an in-memory temporary table gave it all back to the cgroup within a
/// second of KILL QUERY, the connection kept); `KILL CONNECTION` when the memory is held by an idle
/// connection (user variables, temporary tables: no statement to stop) or when the same connection
/// is the largest again after its statement was killed.
public struct Shedder: Sendable {
    public struct Candidate: Equatable, Sendable {
        public var id: UInt64
        public var user: String
        public var host: String
        public var database: String?
        /// The server's command for the connection: Query, Sleep, Execute, …
        public var command: String
        /// Seconds in the current command.
        public var seconds: UInt64
        public var memory: UInt64

        public init(id: UInt64, user: String, host: String, database: String?, command: String, seconds: UInt64, memory: UInt64) {
            self.id = id
            self.user = user
            self.host = host
            self.database = database
            self.command = command
            self.seconds = seconds
            self.memory = memory
        }

        /// Idle: no statement to stop, only the connection.
        var isIdle: Bool { command == "Sleep" }
    }

    public enum KillMode: String, Equatable, Sendable {
        case query = "KILL QUERY"
        case connection = "KILL CONNECTION"
    }

    public enum Action: Equatable, Sendable {
        /// The working set crossed the shed level: an episode begins (log it).
        case began(level: UInt64, shedLevel: UInt64)
        /// Ask the server which connection holds the most memory.
        case lookForRunaway
        /// Send `mode` for this connection.
        case kill(Candidate, KillMode)
        /// The server accepted the kill: log it, count it, put it in the status.
        case killed(Candidate, KillMode)
        /// No connection holds the minimum (said once an episode): the memory is not a session's.
        case nothingToShed(largest: Candidate?, minimum: UInt64)
        /// The server refused, or did not answer: log it (once an episode).
        case failed(reason: String)
        /// Drop the connection: a command that got no answer in time cannot be taken back.
        case dropConnection
        /// Back below the shed level: the episode is over.
        case ended(seconds: Double, kills: Int)
    }

    public struct Settings: Equatable, Sendable {
        /// After a kill, or after finding nothing to kill, before looking again: the killed statement
        /// needs a moment to notice and give its memory back.
        public var coolDown: Duration
        /// How long the server has to answer the question or the kill.
        public var answerTimeout: Duration

        public init(coolDown: Duration = .seconds(1), answerTimeout: Duration = .seconds(2)) {
            self.coolDown = coolDown
            self.answerTimeout = answerTimeout
        }
    }

    private enum Phase: Equatable {
        case below
        case ready
        case looking(deadline: MonotonicInstant)
        case killing(Candidate, KillMode, deadline: MonotonicInstant)
        case coolingDown(until: MonotonicInstant)
    }

    private struct Episode: Equatable {
        var start: MonotonicInstant
        var kills = 0
        var saidNothingToShed = false
        var saidFailure = false
    }

    public let settings: Settings
    private var phase = Phase.below
    private var episode: Episode?
    /// The last connection whose statement was killed: if it is the largest again, its connection goes.
    private var lastQueryKilled: UInt64?
    public private(set) var totalKills = 0
    private var recent = TrailingLow()

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Above the shed level now.
    public var isShedding: Bool { episode != nil }

    /// After each memory sample: `level` is the memory the guard decides on, exact. `minimum`: how
    /// much a connection must hold to be killed, and how much the level must have risen within ten
    /// seconds for the shed to look. `canAsk`: the connection to the server is open with no command
    /// in flight.
    public mutating func observe(level: UInt64, shedLevel: UInt64, minimum: UInt64, now: MonotonicInstant, canAsk: Bool) -> [Action] {
        recent.add(level, at: now)
        guard level >= shedLevel else {
            guard let episode else { return [] }
            self.episode = nil
            phase = .below
            lastQueryKilled = nil
            return [.ended(seconds: (now - episode.start).seconds, kills: episode.kills)]
        }
        var actions: [Action] = []
        if episode == nil {
            episode = Episode(start: now)
            phase = .ready
            actions.append(.began(level: level, shedLevel: shedLevel))
        }
        switch phase {
        case .below:
            preconditionFailure("an episode runs while the phase is below")
        case .coolingDown(let until):
            guard now >= until else { return actions }
            phase = .ready
        case .looking(let deadline), .killing(_, _, let deadline):
            if now >= deadline {
                return actions + failure("no answer within \(settings.answerTimeout)", dropConnection: true, now: now)
            }
            return actions
        case .ready:
            break
        }
        // Nothing has just appeared: the level has been this high for a while (the low of the last ten
        // seconds is within the minimum of it). Looked at again with the next sample.
        guard let low = recent.low(at: now), level - min(low, level) >= minimum else { return actions }
        if canAsk {
            phase = .looking(deadline: now + settings.answerTimeout)
            actions.append(.lookForRunaway)
        }
        return actions
    }

    /// The server's answer to `lookForRunaway`: the largest connection first (or none).
    public mutating func found(_ largest: Candidate?, minimum: UInt64, now: MonotonicInstant) -> [Action] {
        guard case .looking = phase else { return [] }
        guard let largest, largest.memory >= minimum else {
            phase = .coolingDown(until: now + settings.coolDown)
            guard episode?.saidNothingToShed == false else { return [] }
            episode?.saidNothingToShed = true
            return [.nothingToShed(largest: largest, minimum: minimum)]
        }
        let mode: KillMode = largest.isIdle || lastQueryKilled == largest.id ? .connection : .query
        phase = .killing(largest, mode, deadline: now + settings.answerTimeout)
        return [.kill(largest, mode)]
    }

    /// The server's answer to `kill`: nil when it accepted it, else its error.
    public mutating func killAnswered(error: String?, now: MonotonicInstant) -> [Action] {
        guard case .killing(let candidate, let mode, _) = phase else { return [] }
        if let error {
            // Most often the statement or the connection ended by itself in between (unknown thread).
            return failure("\(mode.rawValue) \(candidate.id): \(error)", dropConnection: false, now: now)
        }
        phase = .coolingDown(until: now + settings.coolDown)
        episode?.kills += 1
        totalKills += 1
        lastQueryKilled = mode == .query ? candidate.id : nil
        return [.killed(candidate, mode)]
    }

    /// The question failed (an error from the server, or the connection was lost).
    public mutating func questionFailed(_ reason: String, now: MonotonicInstant) -> [Action] {
        switch phase {
        case .looking, .killing: return failure(reason, dropConnection: false, now: now)
        default: return []
        }
    }

    /// A stop begins, or the server is gone: whatever was in flight is forgotten.
    public mutating func abandon() {
        phase = .below
        episode = nil
        lastQueryKilled = nil
        recent.reset()
    }

    /// When the loop must call `observe` again even without a sample: the end of a cool-down or the
    /// deadline of a question. Samples come at least every second, so this only sharpens timing.
    public var nextWake: MonotonicInstant? {
        switch phase {
        case .coolingDown(let until): return until
        case .looking(let deadline), .killing(_, _, let deadline): return deadline
        case .below, .ready: return nil
        }
    }

    private mutating func failure(_ reason: String, dropConnection: Bool, now: MonotonicInstant) -> [Action] {
        phase = .coolingDown(until: now + settings.coolDown)
        let first = episode?.saidFailure == false
        episode?.saidFailure = true
        return (first ? [.failed(reason: reason)] : []) + (dropConnection ? [.dropConnection] : [])
    }
}
