import Glibc

/// A pthread mutex with one condition, timed waits on CLOCK_MONOTONIC (a wall-clock jump must not
/// stretch them). Allocated once; never copied.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        // Neither can fail with default attributes on Linux (glibc returns 0).
        _ = pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        _ = pthread_condattr_init(&attributes)
        _ = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        _ = pthread_cond_init(condition, &attributes)
        _ = pthread_condattr_destroy(&attributes)
    }

    deinit {
        // Destroying an unlocked mutex and a condition nobody waits on cannot fail.
        _ = pthread_cond_destroy(condition)
        _ = pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    // Locking a valid default mutex and signalling a valid condition cannot fail: their results go.
    public func lock() { _ = pthread_mutex_lock(mutex) }
    public func unlock() { _ = pthread_mutex_unlock(mutex) }
    public func signal() { _ = pthread_cond_signal(condition) }
    public func broadcast() { _ = pthread_cond_broadcast(condition) }

    /// Waits for a signal; the mutex is held on return (spurious wake-ups happen: loop on the state).
    public func wait() { _ = pthread_cond_wait(condition, mutex) }

    /// Waits for a signal or `deadline`; false when the deadline passed.
    public func wait(until deadline: MonotonicInstant) -> Bool {
        var time = timespec(tv_sec: Int(deadline.nanoseconds / 1_000_000_000), tv_nsec: Int(deadline.nanoseconds % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &time) != ETIMEDOUT
    }

    public func withLock<T>(_ body: () -> T) -> T {
        lock()
        defer { unlock() }
        return body()
    }
}

/// A detached thread with a small stack, running `body` once.
public enum SystemThread {
    public static func start(stackSize: Int, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        var attributes = pthread_attr_t()
        // With a valid attribute object and a stack size above PTHREAD_STACK_MIN these cannot fail.
        _ = pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        _ = pthread_attr_setstacksize(&attributes, stackSize)
        _ = pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, &attributes, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
    }
}
