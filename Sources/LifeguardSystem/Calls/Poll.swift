import Glibc

/// ppoll(2), the one place Lifeguard's loop waits.
public enum Poll {
    /// Waits until one of `descriptors` has an event in its `events` (a negative fd is skipped) or
    /// `timeout` passes; `revents` is cleared first. Returns how many have events. EINTR (the
    /// process was stopped and continued: every signal it handles is blocked) is a wake-up with
    /// nothing ready, 0, rather than a wait started again with a timeout that is no longer right.
    public static func wait(_ descriptors: UnsafeMutableBufferPointer<pollfd>, timeout: Duration) throws(Errno) -> Int {
        for index in descriptors.indices { descriptors[index].revents = 0 }
        var time = timeout.timespec
        let ready = system_ppoll(descriptors.baseAddress, descriptors.count, &time)
        if ready == -1 {
            let error = Errno.current
            if error == .interrupted { return 0 }
            throw error
        }
        return Int(ready)
    }
}
