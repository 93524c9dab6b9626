import CLifeguard
import Glibc

extension FileDescriptor {
    /// A datagram socket bound at `path` for the systemd notify protocol (see lg_notify_socket_bind).
    public static func notifySocket(at path: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno(lg_notify_socket_bind(path)))
    }

    /// One datagram into `buffer`: its length and the sending pid (0 when the kernel did not say).
    /// EAGAIN when nothing is pending.
    public func receiveDatagram(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> (count: Int, sender: pid_t) {
        var sender: pid_t = 0
        let count = try valueOrErrno(lg_notify_receive(rawValue, buffer.baseAddress, buffer.count, &sender))
        return (count, sender)
    }

    /// Starts a non-blocking stream connection to a unix socket (`path`) or a numeric address and
    /// port; `inProgress`: it completes later (the socket becomes readable, with data or the error).
    public static func connectStream(path: String?, host: String?, port: Int) throws(Errno) -> (FileDescriptor, inProgress: Bool) {
        var inProgress: Int32 = 0
        let fd = try valueOrErrno(lg_connect_stream(path, host, Int32(port), &inProgress))
        return (FileDescriptor(rawValue: fd), inProgress != 0)
    }

    /// The pid at the other end of a connected unix socket (SO_PEERCRED), nil when unknown.
    public var peerPID: pid_t? {
        let pid = lg_peer_pid(rawValue)
        return pid > 0 ? pid : nil
    }
}
