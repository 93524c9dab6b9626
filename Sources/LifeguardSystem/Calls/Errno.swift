import Glibc

/// An error number from a failed system call, as a type (swift-system's shape, without the package).
public struct Errno: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`. Read it immediately after the failing call.
    @inline(__always)
    public static var current: Errno { Errno(rawValue: errno) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let noChildren = Errno(rawValue: ECHILD)
    public static let noEntry = Errno(rawValue: ENOENT)
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    public static let notPermitted = Errno(rawValue: EPERM)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let exists = Errno(rawValue: EEXIST)

    /// `strerror` text, e.g. "No such file or directory".
    public var description: String { String(cString: strerror(rawValue)) }
}

/// `result`, or the thread's errno thrown when it is -1 (the second of the three layers: see
/// SystemCalls.swift).
@inline(__always) @discardableResult
public func valueOrErrno<Result: FixedWidthInteger>(_ result: Result) throws(Errno) -> Result {
    if result == -1 { throw Errno.current }
    return result
}

/// Runs `call` until it stops failing with EINTR: the one place interrupted calls are retried.
///
/// Lifeguard blocks every signal it handles, so EINTR is rare, but a stopped-and-continued process
/// (SIGSTOP/SIGCONT) can still see it. `call` returns -1 and sets errno on failure, like libc.
/// Nothing allocates on this path, so it is safe on the memory-emergency path.
@inline(__always)
public func retryingInterrupts<Result: FixedWidthInteger>(_ call: () -> Result) throws(Errno) -> Result {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = Errno.current
        if error != .interrupted { throw error }
    }
}
