import Glibc
import LifeguardSystem

/// How old a status file is. On the same boot, from CLOCK_MONOTONIC (immune to wall-clock jumps);
/// otherwise (another boot, an old file format) from the wall clock.
public enum StatusAge {
    public static func age(of status: Status, currentBootID: String?, now: MonotonicInstant = .now(),
                           wallNow: WallClockTime = .now()) -> Duration {
        if let monotonic = status.updatedMonotonic, let bootID = status.bootID, bootID == currentBootID {
            return max(.zero, now - monotonic)
        }
        let seconds = wallNow.secondsSinceEpoch - status.updatedAt.secondsSinceEpoch
        let nanoseconds = Int64(wallNow.nanoseconds) - Int64(status.updatedAt.nanoseconds)
        return max(.zero, .seconds(seconds) + .nanoseconds(nanoseconds))
    }

    public static func currentBootID() -> String? {
        (try? FileDescriptor.readText("/proc/sys/kernel/random/boot_id"))?.split(separator: "\n").first.map(String.init)
    }

    /// "850 ms", "12 s", "3 min 4 s", "2 h 5 min".
    public static func describe(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds < 1 { return "\(Int(seconds * 1000)) ms" }
        let whole = Int(seconds)
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }
}
