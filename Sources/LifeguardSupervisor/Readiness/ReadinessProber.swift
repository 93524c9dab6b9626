import CLifeguard
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
        case connecting(pid: pid_t, fd: Int32, deadline: MonotonicInstant)
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
        if case .connecting(_, let fd, _) = stage { close(fd) }
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
    public var pollDescriptor: Int32? {
        if case .connecting(_, let fd, _) = stage { return fd }
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
        case .connecting(let pid, let fd, let deadline):
            return read(pid: pid, fd: fd, deadline: deadline, now: now)
        }
    }

    private func connect(pid: pid_t, now: MonotonicInstant) {
        var inProgress: Int32 = 0
        let fd: Int32
        switch address {
        case .unix(let path): fd = lg_connect_stream(path, nil, 0, &inProgress)
        case .tcp(let host, let port): fd = lg_connect_stream(nil, host, Int32(port), &inProgress)
        case .none: return
        }
        guard fd >= 0 else {
            retry(pid: pid, now: now)
            return
        }
        received = []
        stage = .connecting(pid: pid, fd: fd, deadline: now + .seconds(2))
    }

    private func read(pid: pid_t, fd: Int32, deadline: MonotonicInstant, now: MonotonicInstant) -> Outcome? {
        var chunk = [UInt8](repeating: 0, count: 512)
        let count = Glibc.read(fd, &chunk, chunk.count)
        if count > 0 { received += chunk[0..<count] }
        switch MySQLGreeting.parse(received) {
        case .packet(.handshake(_, let version)):
            let peer = lg_peer_pid(fd)
            if case .unix = address, peer != pid {
                close(fd)
                retry(pid: pid, now: now)
                return .notReady("the server at \(address) is not the command (pid \(peer))")
            }
            close(fd)
            stage = .finished
            return .ready(serverVersion: version)
        case .packet(.error(let code, let message)):
            close(fd)
            retry(pid: pid, now: now)
            return .notReady("the server refused the connection: \(code) \(message)")
        case .invalid:
            close(fd)
            retry(pid: pid, now: now)
            return .notReady("\(address) did not answer with a MySQL greeting")
        case .incomplete:
            let failed = count == 0 || (count < 0 && errno != EAGAIN && errno != EINPROGRESS)
            if failed || now >= deadline {
                close(fd)
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
