import CLifeguard
import Glibc

extension SignalSet {
    /// The calling thread's signal mask.
    public static func currentMask() throws(Errno) -> SignalSet {
        var set = SignalSet()
        try valueOrErrno(sigprocmask(SIG_SETMASK, nil, &set.raw))
        return set
    }

    /// Makes this set the calling thread's signal mask.
    public func installAsMask() throws(Errno) {
        var mask = raw
        try valueOrErrno(sigprocmask(SIG_SETMASK, &mask, nil))
    }
}

extension Signal {
    /// Sets this signal's disposition to SIG_IGN; returns whether it was SIG_DFL before.
    public func ignore() throws(Errno) -> Bool {
        var previous = sigaction()
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        try valueOrErrno(sigaction(rawValue, &ignore, &previous))
        return previous.__sigaction_handler.sa_handler == nil  // nil is SIG_DFL
    }
}

extension FileDescriptor {
    /// signalfd(2) over `signals` (delivered only while they are blocked): close-on-exec, non-blocking.
    public static func signals(_ signals: SignalSet) throws(Errno) -> FileDescriptor {
        var mask = signals.raw
        return FileDescriptor(rawValue: try valueOrErrno(signalfd(-1, &mask, Int32(SFD_CLOEXEC | SFD_NONBLOCK))))
    }

    /// eventfd(2), close-on-exec and non-blocking: what the kernel writes cgroup v1 notifications to.
    public static func event() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno(eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))))
    }
}
