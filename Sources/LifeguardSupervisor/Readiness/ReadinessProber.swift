import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Readiness by handshake, for a command that does not say READY=1. It waits until the main child
/// itself listens at the ready address (/proc, no connection), gives a notify-capable server a
/// moment to say READY=1, then connects once and reads the MySQL greeting. Nothing blocks: the
/// connection is non-blocking and the loop polls it.
public final class ReadinessProber {
    public enum Outcome: Equatable, Sendable {
        case ready(serverVersion: String)
        /// Connected, but not ready (an error packet, not a MySQL server, another process): tried again.
        case notReady(String)
    }

    private enum Stage {
        case idle
        case watching(pid: pid_t)
        case grace(pid: pid_t, until: MonotonicInstant)
        case connecting(pid: pid_t, connection: FileDescriptor, deadline: MonotonicInstant)
        case finished
    }

    public let address: ReadyAddress
    public let procRoot: String
    /// How long a listening server gets to say READY=1 before the one probe connection.
    public let notifyGrace: Duration
    public let checkInterval: Duration
    private var stage = Stage.idle
    private var nextCheck: MonotonicInstant?
    private var received: [UInt8] = []

    public init(address: ReadyAddress, procRoot: String = "/proc", notifyGrace: Duration = .milliseconds(250),
                checkInterval: Duration = .milliseconds(200)) {
        self.address = address
        self.procRoot = procRoot
        self.notifyGrace = notifyGrace
        self.checkInterval = checkInterval
    }

    deinit { end() }

    /// A new main child: start watching for it to listen.
    public func begin(pid: pid_t, now: MonotonicInstant) {
        end()
        guard address != .none else { return }
        stage = .watching(pid: pid)
        nextCheck = now
    }

    /// Ready (by either path), or the child is gone: stop.
    public func end() {
        if case .connecting(_, let connection, _) = stage { connection.close() }
        stage = .idle
        nextCheck = nil
        received = []
    }

    public var nextWake: MonotonicInstant? {
        switch stage {
        case .watching: return nextCheck
        case .grace(_, let until): return until
        case .connecting(_, _, let deadline): return deadline
        case .idle, .finished: return nil
        }
    }

    /// The connection to poll for the greeting, while there is one.
    public var pollDescriptor: FileDescriptor? {
        if case .connecting(_, let connection, _) = stage { return connection }
        return nil
    }

    /// Moves on when its time has come or the connection is readable.
    public func advance(now: MonotonicInstant) -> Outcome? {
        switch stage {
        case .idle, .finished:
            return nil
        case .watching(let pid):
            guard let nextCheck, now >= nextCheck else { return nil }
            if ListeningSockets.isListening(pid, at: address, procRoot: procRoot) {
                stage = .grace(pid: pid, until: now + notifyGrace)
            } else {
                self.nextCheck = now + checkInterval
            }
            return nil
        case .grace(let pid, let until):
            guard now >= until else { return nil }
            connect(pid: pid, now: now)
            return nil
        case .connecting(let pid, let connection, let deadline):
            return read(pid: pid, connection: connection, deadline: deadline, now: now)
        }
    }

    private func connect(pid: pid_t, now: MonotonicInstant) {
        let connection: FileDescriptor
        do {
            switch address {
            case .unix(let path): connection = try FileDescriptor.connectStream(path: path, host: nil, port: 0).0
            case .tcp(let host, let port): connection = try FileDescriptor.connectStream(path: nil, host: host, port: Int(port)).0
            case .none: return
            }
        } catch {
            // Refused or not there yet: the watcher looks again in a second.
            retry(pid: pid, now: now)
            return
        }
        received = []
        stage = .connecting(pid: pid, connection: connection, deadline: now + .seconds(2))
    }

    private func read(pid: pid_t, connection: FileDescriptor, deadline: MonotonicInstant, now: MonotonicInstant) -> Outcome? {
        var chunk = [UInt8](repeating: 0, count: 512)
        // Whether this try is over: the server closed (a read of 0 bytes) or the read failed for
        // another reason than "nothing yet" (EAGAIN, or EINPROGRESS while the connect completes).
        var ended = false
        do {
            let count = try chunk.withUnsafeMutableBytes { target in Result { () throws(Errno) in try connection.read(into: target) } }.get()
            if count > 0 { received += chunk[0..<count] } else { ended = true }
        } catch {
            ended = error != .wouldBlock && error != Errno(rawValue: EINPROGRESS)
        }
        switch MySQLGreeting.parse(received) {
        case .packet(.handshake(_, let version)):
            let peer = connection.peerPID
            connection.close()
            if case .unix = address, peer != pid {
                retry(pid: pid, now: now)
                return .notReady("the server at \(address) is not the command (pid \(peer.map(String.init) ?? "unknown"))")
            }
            stage = .finished
            return .ready(serverVersion: version)
        case .packet(.error(let code, let message)):
            connection.close()
            retry(pid: pid, now: now)
            return .notReady("the server refused the connection: \(code) \(message)")
        case .invalid:
            connection.close()
            retry(pid: pid, now: now)
            return .notReady("\(address) did not answer with a MySQL greeting")
        case .incomplete:
            if ended || now >= deadline {
                connection.close()
                retry(pid: pid, now: now)
            }
            return nil
        }
    }

    private func retry(pid: pid_t, now: MonotonicInstant) {
        stage = .watching(pid: pid)
        nextCheck = now + .seconds(1)
    }
}
