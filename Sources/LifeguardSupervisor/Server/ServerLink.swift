import Glibc
import LifeguardMySQL
import LifeguardSystem

/// Lifeguard's own way into the server: the account lifeguard@localhost over the server's unix
/// socket, with no password (the server authenticates the socket's peer: the OS user `lifeguard`,
/// whom Lifeguard, as root, becomes for the connect alone). Each time the server becomes ready,
/// the link connects once and says whether that works, once per change, so that an operator learns
/// at start, not in an emergency, that the account is missing. What needs the link (shedding a
/// runaway connection, re-checking readiness) builds on it; the memory stop never does: the link is
/// non-blocking, and dropped (`end`) the moment a stop begins.
public final class ServerLink {
    public enum Outcome: Equatable, Sendable {
        case available(serverVersion: String, connectionID: UInt32)
        case unavailable(String)
    }

    /// The account's name, and the OS user it authenticates as.
    public static let user = "lifeguard"
    /// How long one attempt may take before it counts as failed.
    public static let attemptTimeout: Duration = .seconds(5)

    public let socketPath: String
    /// The OS user the server must see, when Lifeguard can become it (root, and the user exists).
    public let peerUserID: uid_t?
    private var connection: ServerConnection?
    private var deadline: MonotonicInstant?
    /// The last outcome, to say each change once.
    public private(set) var lastOutcome: Outcome?

    public init(socketPath: String, peerUserID: uid_t?) {
        self.socketPath = socketPath
        self.peerUserID = peerUserID
    }

    /// The OS user `lifeguard` from /etc/passwd when Lifeguard runs as root (it can take on that
    /// user's identity for a connect); nil otherwise: it connects as itself.
    public static func peerUserID(database: UserDatabase = .system()) -> uid_t? {
        guard geteuid() == 0 else { return nil }
        return database.users.first { $0.name == user }?.uid
    }

    deinit { end() }

    /// The server is ready: connect now (an attempt in flight is dropped first).
    public func begin(now: MonotonicInstant) -> Outcome? {
        end()
        do {
            let opened = try ServerConnection(path: socketPath, user: Self.user, peerUserID: peerUserID)
            connection = opened
            deadline = now + Self.attemptTimeout
            return nil
        } catch {
            return settle(.unavailable("cannot connect to \(socketPath): \(error)"))
        }
    }

    /// The server stops or is gone: drop the connection at once (no goodbye: nothing may wait).
    public func end() {
        connection?.close()
        connection = nil
        deadline = nil
    }

    public var nextWake: MonotonicInstant? { deadline }
    public var pollDescriptor: FileDescriptor? { connection?.descriptor }
    public var pollEvents: Int16 { connection?.pollEvents ?? Int16(POLLIN) }

    /// Services the connection (when polled ready) and its deadline: an outcome when it is a new one.
    public func advance(now: MonotonicInstant) -> Outcome? {
        guard let connection else { return nil }
        for event in connection.service() {
            switch event {
            case .connected(let greeting):
                connection.quit()
                end()
                return settle(.available(serverVersion: greeting.serverVersion, connectionID: greeting.connectionID))
            case .failed(let failure):
                end()
                return settle(.unavailable(Self.describe(failure)))
            case .result, .pong:
                break
            }
        }
        if let deadline, now >= deadline {
            end()
            return settle(.unavailable("no answer within \(Self.attemptTimeout)"))
        }
        return nil
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
