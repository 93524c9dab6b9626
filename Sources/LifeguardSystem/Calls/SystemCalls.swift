import CLifeguard
import Glibc

// The bottom of the three layers every system call goes through (swift-system's shape):
//   1. `system_*` here: the raw call, as libc returns it (-1 and errno), redirected to a mock in
//      debug builds so that tests can force the results a real system rarely gives (EINTR, ESRCH,
//      EPERM, EAGAIN);
//   2. `valueOrErrno` and `retryingInterrupts` (Errno.swift): -1 becomes a thrown `Errno`, EINTR is
//      retried in that one place;
//   3. the typed methods callers use (FileDescriptor, Processes, Poll, …), in this folder.
// Nothing here allocates: the emergency path (a reading over the trigger → kill(2)) runs through it.

/// A system call, as a mock sees it: which call, with the arguments a test may want to match.
package enum SystemCall: Equatable, Sendable {
    case kill(pid: pid_t, signal: Int32)
    case waitpid(pid: pid_t, options: Int32)
    case ppoll(descriptors: Int)
    case spawn
    case open
    case read(fd: Int32)
    case pread(fd: Int32)
    case write(fd: Int32)
    case other
}

#if DEBUG
/// Debug builds only: replaces the system calls made on the installing thread. `handler` returns
/// the result to give (a value, and the errno to set when it is -1), or nil to make the real call.
package final class SystemCallMock {
    package struct Result: Sendable {
        package var value: Int
        package var errno: Int32
        package static func failure(_ error: Int32) -> Result { Result(value: -1, errno: error) }
        package static func success(_ value: Int = 0) -> Result { Result(value: value, errno: 0) }
    }

    let handler: (SystemCall) -> Result?

    private init(_ handler: @escaping (SystemCall) -> Result?) { self.handler = handler }

    /// Runs `body` with `handler` deciding this thread's system calls; the previous mock afterwards.
    package static func with<R>(_ handler: @escaping (SystemCall) -> Result?, _ body: () throws -> R) rethrows -> R {
        let mock = Unmanaged.passRetained(SystemCallMock(handler))
        let previous = lg_thread_mock()
        lg_set_thread_mock(mock.toOpaque())
        defer {
            lg_set_thread_mock(previous)
            mock.release()
        }
        return try body()
    }
}
#endif

/// The mocked result of `call` on this thread, if a debug-build mock decides it.
@inline(__always)
private func mocked(_ call: SystemCall) -> Int? {
    #if DEBUG
    if let raw = lg_thread_mock(), let result = Unmanaged<SystemCallMock>.fromOpaque(raw).takeUnretainedValue().handler(call) {
        errno = result.errno
        return result.value
    }
    #endif
    return nil
}

package func system_kill(_ pid: pid_t, _ signal: Int32) -> Int32 {
    if let result = mocked(.kill(pid: pid, signal: signal)) { return Int32(result) }
    return Glibc.kill(pid, signal)
}

package func system_waitpid(_ pid: pid_t, _ status: inout Int32, _ options: Int32) -> pid_t {
    if let result = mocked(.waitpid(pid: pid, options: options)) { return pid_t(result) }
    return Glibc.waitpid(pid, &status, options)
}

package func system_ppoll(_ fds: UnsafeMutablePointer<pollfd>?, _ count: Int, _ timeout: UnsafePointer<timespec>?) -> Int32 {
    if let result = mocked(.ppoll(descriptors: count)) { return Int32(result) }
    return lg_ppoll(fds, nfds_t(count), timeout)
}

package func system_spawn(_ file: UnsafePointer<CChar>, _ argv: UnsafePointer<UnsafeMutablePointer<CChar>?>?,
                          _ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>?, _ childMask: UnsafePointer<sigset_t>,
                          _ reset: UnsafePointer<sigset_t>, _ pid: inout pid_t, _ error: inout Int32) -> lg_spawn_result {
    if let result = mocked(.spawn) {
        error = errno
        return result == 0 ? LG_SPAWN_OK : LG_SPAWN_FORK_FAILED
    }
    return lg_spawn(file, argv, envp, childMask, reset, 1, 1, &pid, &error)
}

package func system_open(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    if let result = mocked(.open) { return Int32(result) }
    return Glibc.open(path, flags, mode)
}

package func system_openat(_ directory: Int32, _ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    if let result = mocked(.open) { return Int32(result) }
    return Glibc.openat(directory, path, flags, mode)
}

package func system_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    if let result = mocked(.read(fd: fd)) { return result }
    return Glibc.read(fd, buffer, count)
}

package func system_pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: off_t) -> Int {
    if let result = mocked(.pread(fd: fd)) { return result }
    return Glibc.pread(fd, buffer, count, offset)
}

package func system_write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    if let result = mocked(.write(fd: fd)) { return result }
    return Glibc.write(fd, buffer, count)
}

package func system_close(_ fd: Int32) -> Int32 {
    Glibc.close(fd)
}
