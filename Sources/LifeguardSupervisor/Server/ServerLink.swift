import Glibc
import LifeguardMySQL
import LifeguardSystem

/// Lifeguard's own way into the server: the account lifeguard@localhost over the server's unix
/// socket, with no password (the server authenticates the socket's peer: the OS user `lifeguard`,
/// whom Lifeguard, as root, becomes for the connect alone; not root, as in a pod run as the server's
/// user, it connects as itself, and the account bears that user's name). From the moment the server is ready the
/// link keeps one connection open (reconnecting after `retryDelay` when it is lost) and says whether
/// that works, once per change, so that an operator learns at start, not in an emergency, that the
/// account is missing. The shed sends its questions over it, one command at a time. The memory stop
/// never needs it: the link is non-blocking, and dropped (`end`) the moment a stop begins.
public final class ServerLink {
    public enum Outcome: Equatable, Sendable {
        case available(serverVersion: String, connectionID: UInt32)
        case unavailable(String)
    }

    public enum Event: Equatable, Sendable {
        /// Whether the link works, when that changed.
        case outcome(Outcome)
        /// The answer to the command in flight.
        case result(ClientSession.QueryResult)
        case pong
        /// The connection was lost with a command in flight: it will get no answer.
        case lost(String)
        /// The server said something (a greeting, an answer, even a refusal): it is alive.
        case heard
        /// An attempt or a command got nothing: no connection, no answer in time, the connection lost.
        case unheard(String)
    }

    /// The account's name, and the OS user it authenticates as, when Lifeguard runs as root.
    public static let user = "lifeguard"
    /// The account this link logs in as: the OS user the server sees on the socket.
    public let user: String
    /// After a refused login, the longest wait before the next attempt (see `retryDelay`).
    public static let maximumRetryDelay: Duration = .seconds(300)

    /// How long one attempt may take before it counts as failed.
    public let attemptTimeout: Duration
    /// After a failed attempt or a lost connection, the wait before the next attempt. After a refused
    /// login (a missing account) it doubles with each refusal in a row, up to `maximumRetryDelay`: the
    /// server logs every denied login, and an operator who has not added the account must not find
    /// their error log full of Lifeguard.
    public let retryDelay: Duration

    public let socketPath: String
    /// The OS user the server must see, when Lifeguard can become it (root, and the user exists).
    public let peerUserID: uid_t?
    private var connection: ServerConnection?
    /// Authenticated: commands may be sent.
    private var connected = false
    private var commandInFlight = false
    /// The server is ready: keep a connection.
    private var wanted = false
    private var deadline: MonotonicInstant?
    private var retryAt: MonotonicInstant?
    /// What the connection said while a command was being written (a failure, at most): handed out
    /// by the next `advance`.
    private var deferred: [ClientSession.Event] = []
    /// Logins refused in a row.
    private var refusals = 0
    /// The last outcome, to say each change once.
    public private(set) var lastOutcome: Outcome?
    /// The server's flavour, from the greeting of the open connection.
    public private(set) var flavor: RunawayQuery.Flavor?

    public init(socketPath: String, peerUserID: uid_t?, user: String = ServerLink.user, retryDelay: Duration = .seconds(5), attemptTimeout: Duration = .seconds(5)) {
        self.socketPath = socketPath
        self.peerUserID = peerUserID
        self.user = user
        self.retryDelay = retryDelay
        self.attemptTimeout = attemptTimeout
    }

    /// Who the server will see on the socket. As root: the OS user `lifeguard` from /etc/passwd (taken
    /// on for the connect alone). Otherwise Lifeguard's own user, by its name in /etc/passwd (unix_socket
    /// and auth_socket match the account's name to it); a uid with no name keeps `lifeguard`, refused.
    public static func account(database: UserDatabase = .system(), effectiveUserID: uid_t = geteuid()) -> (user: String, peerUserID: uid_t?) {
        guard effectiveUserID == 0 else {
            return (database.users.first { $0.uid == effectiveUserID }?.name ?? user, nil)
        }
        return (user, database.users.first { $0.name == user }?.uid)
    }

    deinit { end() }

    /// The server is ready: connect now (a connection already open is replaced).
    public func begin(now: MonotonicInstant) -> Outcome? {
        drop()
        wanted = true
        refusals = 0
        retryAt = nil
        return connect(now: now)
    }

    /// The server stops or is gone: drop the connection at once (nothing waits for the server).
    public func end() {
        wanted = false
        retryAt = nil
        drop()
    }

    /// Drops the connection (a command that got no answer in time cannot be taken back) and tries
    /// again after `retryDelay` while the server is wanted.
    public func reconnect(now: MonotonicInstant) {
        drop()
        scheduleRetry(now: now, refused: false)
    }

    private func scheduleRetry(now: MonotonicInstant, refused: Bool) {
        guard wanted else { return }
        refusals = refused ? refusals + 1 : 0
        let delay = retryDelay.seconds * Double(1 << min(max(refusals - 1, 0), 16))
        retryAt = now + .exactly(nanoseconds: Int64(min(delay, max(Self.maximumRetryDelay.seconds, retryDelay.seconds)) * 1e9))
    }

    /// When the next attempt is due after a failure; nil while connected or not wanted.
    public var nextAttempt: MonotonicInstant? { retryAt }

    /// Open, authenticated, and no command in flight.
    public var canSend: Bool { connected && !commandInFlight && connection?.isIdle == true }

    /// Sends a text query; its answer comes back from `advance` as `.result`. Only when `canSend`.
    public func send(_ sql: String) {
        guard canSend, let connection else { return }
        commandInFlight = true
        connection.query(sql)
        deferred += connection.service()  // write now: the answer may be a poll away
    }

    /// COM_PING; its answer comes back from `advance` as `.pong`. Only when `canSend`.
    public func ping() {
        guard canSend, let connection else { return }
        commandInFlight = true
        connection.ping()
        deferred += connection.service()
    }

    public var nextWake: MonotonicInstant? {
        if !deferred.isEmpty { return MonotonicInstant(nanoseconds: 0) }  // at once
        switch (deadline, retryAt) {
        case (let deadline?, let retry?): return min(deadline, retry)
        case (let deadline?, nil): return deadline
        case (nil, let retry): return retry
        }
    }

    public var pollDescriptor: FileDescriptor? { connection?.descriptor }
    public var pollEvents: Int16 { connection?.pollEvents ?? Int16(POLLIN) }

    /// Services the connection (when polled ready), its deadline and the retry: the events that makes.
    public func advance(now: MonotonicInstant) -> [Event] {
        var events: [Event] = []
        if connection == nil, wanted, let retryAt, now >= retryAt {
            self.retryAt = nil
            if let outcome = connect(now: now) { events.append(.outcome(outcome)) }
            if connection == nil { events.append(.unheard("cannot connect to \(socketPath)")) }
        }
        guard let connection else { return events }
        let said = deferred + connection.service()
        deferred = []
        for event in said {
            switch event {
            case .connected(let greeting):
                events.append(.heard)
                connected = true
                deadline = nil
                refusals = 0
                flavor = RunawayQuery.Flavor(serverVersion: greeting.serverVersion)
                if let outcome = settle(.available(serverVersion: greeting.serverVersion, connectionID: greeting.connectionID)) {
                    events.append(.outcome(outcome))
                }
            case .failed(let failure):
                let refused: Bool
                switch failure {
                case .authenticationFailed, .passwordRequired: refused = true
                default: refused = false
                }
                events.append(refused ? .heard : .unheard(Self.describe(failure)))
                if commandInFlight { events.append(.lost(Self.describe(failure))) }
                drop()
                scheduleRetry(now: now, refused: refused)
                if let outcome = settle(.unavailable(Self.describe(failure))) { events.append(.outcome(outcome)) }
                return events
            case .result(let result):
                commandInFlight = false
                events += [.heard, .result(result)]
            case .pong:
                commandInFlight = false
                events += [.heard, .pong]
            }
        }
        if let deadline, now >= deadline {
            events.append(.unheard("no answer within \(attemptTimeout)"))
            reconnect(now: now)
            if let outcome = settle(.unavailable("no answer within \(attemptTimeout)")) { events.append(.outcome(outcome)) }
        }
        return events
    }

    private func connect(now: MonotonicInstant) -> Outcome? {
        do {
            connection = try ServerConnection(path: socketPath, user: user, peerUserID: peerUserID)
            deadline = now + attemptTimeout
            return nil
        } catch {
            scheduleRetry(now: now, refused: false)
            return settle(.unavailable("cannot connect to \(socketPath): \(error)"))
        }
    }

    /// COM_QUIT when idle (one non-blocking write: the server then logs no aborted connection), and close.
    private func drop() {
        connection?.quit()
        connection = nil
        deferred = []
        connected = false
        commandInFlight = false
        deadline = nil
        flavor = nil
    }

    private func settle(_ outcome: Outcome) -> Outcome? {
        // Each change once: the connection id changes every time and says nothing new.
        let changed: Bool
        switch (lastOutcome, outcome) {
        case (.available?, .available): changed = false
        case (.unavailable(let old)?, .unavailable(let new)): changed = old != new
        default: changed = true
        }
        lastOutcome = outcome
        return changed ? outcome : nil
    }

    static func describe(_ failure: ClientSession.Failure) -> String {
        switch failure {
        case .authenticationFailed(let error): return "\(error.code) \(error.message)"
        case .passwordRequired(let plugin): return "the account wants a password (its plugin is \(plugin), not unix_socket or auth_socket)"
        case .unexpectedPacket(let what): return "unexpected \(what)"
        case .framing(let error): return "\(error)"
        case .resultTooLarge: return "a result too large"
        case .connectionLost(let why): return why
        }
    }
}
