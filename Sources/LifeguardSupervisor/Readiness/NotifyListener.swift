import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The notify socket Lifeguard hands the command as NOTIFY_SOCKET: a path (MySQL's own sd_notify
/// code cannot use abstract sockets), mode 0666 so a server running as another user can send, and
/// every datagram's sender pid from SCM_CREDENTIALS, so only the main child's READY=1 counts (the
/// entrypoint's temporary server inherits NOTIFY_SOCKET too).
public final class NotifyListener {
    public let path: String
    public let descriptor: FileDescriptor
    private var buffer = [UInt8](repeating: 0, count: 4096)

    public init(path: String) throws(Errno) {
        descriptor = try FileDescriptor.notifySocket(at: path)
        self.path = path
    }

    deinit {
        descriptor.close()
        try? FileSystem.remove(path)  // best effort: a leftover socket file is replaced at the next bind
    }

    /// Every pending datagram with its sender's pid (0 when unknown).
    public func drain(_ body: (NotifyMessage, pid_t) -> Void) {
        while true {
            // EAGAIN (nothing pending) ends the drain; any other error too: the loop polls again.
            guard let (count, sender) = try? buffer.withUnsafeMutableBytes({ target in
                Result { () throws(Errno) in try descriptor.receiveDatagram(into: target) }
            }).get() else { return }
            body(NotifyMessage(buffer[0..<count]), sender)
        }
    }
}
