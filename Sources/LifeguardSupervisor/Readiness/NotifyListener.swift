import CLifeguard
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
        let fd = lg_notify_socket_bind(path)
        if fd < 0 { throw Errno.current }
        self.path = path
        descriptor = FileDescriptor(rawValue: fd)
    }

    deinit {
        descriptor.close()
        unlink(path)
    }

    /// Every pending datagram with its sender's pid (0 when unknown).
    public func drain(_ body: (NotifyMessage, pid_t) -> Void) {
        while true {
            var sender: pid_t = 0
            let count = buffer.withUnsafeMutableBytes { lg_notify_receive(descriptor.rawValue, $0.baseAddress, $0.count, &sender) }
            if count < 0 { return }
            body(NotifyMessage(buffer[0..<count]), sender)
        }
    }
}
