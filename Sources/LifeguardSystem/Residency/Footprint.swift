import Glibc

/// Lifeguard's own memory, kept to what its steady state uses.
///
/// Its code is a 7 MB static binary and most of it runs only at start (configuration, discovery,
/// spawning). Each page fault maps a 64 KB window of cached neighbours (fault-around) and reads a
/// 128 KB window ahead, so the resident set ends up far larger than the code that runs. Once start is
/// over, `settle` marks the executable's mappings MADV_RANDOM (a later fault reads one page),
/// pages them out and drops them from the page cache; what the loop uses comes back a page at a time.
/// `lock` then keeps what is resident (and what faults in later) locked, where the limits allow: the
/// supervisor must not wait on a disk read while the container has no memory left.
public enum Footprint {
    /// The address ranges of the running executable's mappings (text, rodata, data).
    package static func executableMappings() -> [(UInt, UInt)] {
        guard let executable = try? FileSystem.readLink("/proc/self/exe"),
              let maps = try? FileDescriptor.readText("/proc/self/maps") else { return [] }
        return maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5] == executable else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { return nil }
            return (start, end)
        }
    }

    /// Drops the pages start needed. Everything the caller runs afterwards faults back in, so it
    /// must run only what the loop needs (and the mapping list is gathered before, not after).
    public static func settle(_ mappings: [(UInt, UInt)]) {
        for (start, end) in mappings {
            // Advice only: a kernel without MADV_PAGEOUT (before 5.4) says EINVAL and the pages stay,
            // which costs memory, not correctness.
            try? MemoryCalls.advise(start, end, MemoryCalls.adviceRandom)
            try? MemoryCalls.advise(start, end, MemoryCalls.advicePageOut)
        }
        if let executable = try? FileDescriptor.open("/proc/self/exe", O_RDONLY) {
            try? executable.dropCachedPages()  // advice only, as above
            executable.close()
        }
    }

    /// Locks current and future pages as they fault in (MCL_ONFAULT: nothing is read in for it).
    /// Returns the error when the limits do not allow it (RLIMIT_MEMLOCK, no CAP_IPC_LOCK).
    public static func lock() -> Errno? {
        do {
            try MemoryCalls.lockAllOnFault()
            return nil
        } catch {
            return error
        }
    }

    /// Unlocks everything, so that `settle` can page out what start-up used.
    public static func unlock() {
        // The only error is ENOMEM/EPERM on a lock that was never taken: nothing to undo then.
        try? MemoryCalls.unlockAll()
    }

    /// Resident pages (the second field of /proc/self/statm).
    public static func residentPages() -> Int {
        guard let text = try? FileDescriptor.readText("/proc/self/statm", limit: 256) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? Int(fields[1]) ?? 0 : 0
    }
}
