import Glibc
import LifeguardMySQL
import LifeguardSystem

/// Lifeguard's own connection to the server, over its unix socket, authenticated by the socket's
/// peer (no password anywhere). Non-blocking throughout: the loop polls `descriptor` for
/// `pollEvents` and calls `service` when it is ready; nothing here waits, so the connection can be
/// dropped the moment the memory guard needs the loop (`close`).
public final class ServerConnection {
    public let descriptor: FileDescriptor
    private var session: ClientSession
    private var pending: [UInt8] = []
    private var connecting: Bool
    public private(set) var isClosed = false

    /// Starts connecting to the socket at `path` as `user`. `peerUserID`: the OS user the server must
    /// see (the thread's effective user ID while connecting; nil keeps Lifeguard's own).
    public init(path: String, user: String, peerUserID: uid_t? = nil, maximumResultBytes: Int = 256 * 1024) throws(Errno) {
        let connect = { () throws(Errno) -> (FileDescriptor, inProgress: Bool) in try FileDescriptor.connectStream(path: path, host: nil, port: 0) }
        let (descriptor, inProgress): (FileDescriptor, inProgress: Bool)
        if let peerUserID {
            (descriptor, inProgress) = try Identity.asThreadEffectiveUser(peerUserID, connect)
        } else {
            (descriptor, inProgress) = try connect()
        }
        self.descriptor = descriptor
        connecting = inProgress
        session = ClientSession(user: user, maximumResultBytes: maximumResultBytes)
    }

    deinit { close() }

    /// What to poll for: readable always, writable while connecting or while bytes wait to go.
    public var pollEvents: Int16 {
        Int16(POLLIN) | (connecting || !pending.isEmpty ? Int16(POLLOUT) : 0)
    }

    /// Authenticated, and no command in flight.
    public var isIdle: Bool { !isClosed && session.isIdle }

    public func query(_ sql: String) {
        session.query(sql)
        pending += session.takeOutgoing()
    }

    public func ping() {
        session.ping()
        pending += session.takeOutgoing()
    }

    /// Writes what it can, reads what there is; the events that completes. A closed or failed
    /// connection ends with `.failed` once, and closes itself.
    public func service() -> [ClientSession.Event] {
        guard !isClosed else { return [] }
        var events: [ClientSession.Event] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { target in
                    Result { () throws(Errno) in try descriptor.read(into: target) }
                }.get()
            } catch {
                // EAGAIN: nothing more now; EINPROGRESS: still connecting; anything else ends it.
                if error == .wouldBlock || error == Errno(rawValue: EINPROGRESS) { break }
                return events + fail("read: \(error)")
            }
            if count == 0 { return events + fail("the server closed the connection") }
            connecting = false
            events += session.receive(chunk[0..<count])
            pending += session.takeOutgoing()
            if session.hasFailed { return events + closing() }
        }
        return events + flush()
    }

    private func flush() -> [ClientSession.Event] {
        guard !pending.isEmpty else { return [] }
        do {
            let written = try pending.withUnsafeBytes { bytes in
                Result { () throws(Errno) in try descriptor.write(some: bytes) }
            }.get()
            connecting = false
            pending.removeFirst(written)
        } catch {
            if error == .wouldBlock || error == Errno(rawValue: EINPROGRESS) || error == Errno(rawValue: ENOTCONN) { return [] }
            return fail("write: \(error)")
        }
        return []
    }

    private func fail(_ reason: String) -> [ClientSession.Event] {
        close()
        return [.failed(.connectionLost(reason))]
    }

    private func closing() -> [ClientSession.Event] {
        close()
        return []
    }

    /// COM_QUIT if the socket takes it now (the server then logs no aborted connection), and close.
    public func quit() {
        if !isClosed, session.isIdle {
            let bytes = PacketFramer.frame(Command.quit, sequence: 0)
            _ = try? bytes.withUnsafeBytes { raw in Result { () throws(Errno) in try descriptor.write(some: raw) } }.get()
        }
        close()
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        descriptor.close()
    }

    /// Blocks (poll) until `done` says so for the events so far, the connection fails, or `deadline`:
    /// for one-shot uses outside the loop (a command, a test), never inside it.
    public func wait(until deadline: MonotonicInstant, done: ([ClientSession.Event]) -> Bool) -> [ClientSession.Event] {
        var events: [ClientSession.Event] = []
        while !isClosed, !done(events) {
            let now = MonotonicInstant.now()
            guard now < deadline else { break }
            var entry = pollfd(fd: descriptor.rawValue, events: pollEvents, revents: 0)
            let milliseconds = Int32(min(1000, max(1, (deadline - now).seconds * 1000)))
            _ = Glibc.poll(&entry, 1, milliseconds)  // a timeout or EINTR: go round and look again
            events += service()
        }
        return events
    }
}
