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

    /// munlockall(2).
    public static func unlockAll() throws(Errno) {
        try valueOrErrno(munlockall())
    }
}
