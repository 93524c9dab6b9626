import CLifeguard
import Glibc

/// Calls about this process's own memory (see `Footprint` for why they are made).
public enum MemoryCalls {
    /// The page size in bytes.
    public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// madvise(2) over [start, end). Advice values from the kernel's uapi (not all are in Glibc).
    public static func advise(_ start: UInt, _ end: UInt, _ advice: Int32) throws(Errno) {
        try valueOrErrno(madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), advice))
    }
    public static let adviceRandom: Int32 = 1
    public static let advicePageOut: Int32 = 21

    /// mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT): pages are locked as they fault in, nothing is
    /// read in for it. EPERM or ENOMEM when RLIMIT_MEMLOCK does not allow it and CAP_IPC_LOCK is missing.
    public static func lockAllOnFault() throws(Errno) {
        try valueOrErrno(lg_mlockall_onfault())
    }

    /// mlock2(MLOCK_ONFAULT) over [start, end): the range's pages are locked as they fault in. The
    /// whole range counts against RLIMIT_MEMLOCK, resident or not.
    public static func lockOnFault(_ start: UInt, _ end: UInt) throws(Errno) {
        try valueOrErrno(lg_mlock_onfault(UnsafeMutableRawPointer(bitPattern: start), Int(end - start)))
    }

    /// mincore(2) over [start, end): one Bool per page, true when it is in memory.
    public static func residentPages(_ start: UInt, _ end: UInt) throws(Errno) -> [Bool] {
        let count = Int(end - start) / pageSize
        var vector = [UInt8](repeating: 0, count: count)
        let result = vector.withUnsafeMutableBufferPointer {
            mincore(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), $0.baseAddress)
        }
        try valueOrErrno(result)
        return vector.map { $0 & 1 != 0 }
    }

    /// RLIMIT_MEMLOCK's soft limit in bytes; nil when unlimited.
    public static func lockLimit() -> UInt64? {
        let limit = lg_memlock_limit()
        return limit == UInt64.max ? nil : limit
    }

    /// munlockall(2).
    public static func unlockAll() throws(Errno) {
        try valueOrErrno(munlockall())
    }
}
