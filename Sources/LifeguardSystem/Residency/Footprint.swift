import Glibc

/// Lifeguard's own memory, kept to what its steady state uses: the residency rules.
///
/// Every byte Lifeguard holds counts against the container it guards, and the moment it matters most
/// (a burst towards the limit, a cache full of dirty pages) is the moment a page fault of its own
/// would wait on the disk behind the container's writeback. So the code follows these rules; a site
/// that bends the natural way of writing Swift for one of them says which ("see `Footprint`").
///
/// 1. **Locked from the loop's first instruction.** `lock` (mlockall with MCL_ONFAULT: nothing is read
///    in for it) before the first spawn, again after `settle`. Where RLIMIT_MEMLOCK refuses mlockall
///    (Docker: 8 MiB, no CAP_IPC_LOCK), the executable's mappings, heap and stack one by one within the
///    limit (`MemoryLock`); the log says what was not locked, once. Measured: with a writer keeping a
///    v1 container's cache dirty, an unlocked loop refaulted its own code and lost 44 of 50 bursts
///    (BENCHMARKS.md, section 4c); in Docker, unlocked, the article's run was OOM-killed in 5 of 30.
/// 2. **Start-up is dropped, once.** The binary is 7 MB and most of it runs only at start; each fault
///    maps a 64 KB window (fault-around) and reads 128 KB ahead. Five seconds after start, `settle`
///    marks the executable's mappings MADV_RANDOM (a later fault reads one page), pages them out, and
///    drops the file's unmapped cached pages (POSIX_FADV_DONTNEED: measured with 20 containers of one
///    image, section 1b, the first container is otherwise charged 3.9 MB of the binary's cache).
/// 3. **The emergency path is warm before it is needed.** The path from a reading over the trigger to
///    kill(2) runs once without effect (signal 0) at the first spawn and after `settle`.
/// 4. **The steady loop's code is packed.** lld places the functions the loop runs together
///    (scripts/hot-code/lifeguard.order, made by tracing the real loop); the build fails when the order
///    names a function that no longer exists, so it cannot rot unseen.
/// 5. **The steady loop runs no code that nothing else runs.** No copies of large generic values (they
///    go through value witnesses), no variadic arrays, no Collection iteration on the emergency path,
///    C strings made once rather than per call.
/// 6. **The emergency path allocates nothing** (the reading goes into a buffer allocated at start;
///    decisions and actions are inline values): a test counts the allocations up to kill(2).
/// 7. **Writes that can block are not the loop's.** Status and metrics files and log lines go to the
///    output thread; the loop only hands them over.
///
/// Checked in the suite: RSS ≤ 2.5 MB and RssAnon ≤ 512 KB once settled (FootprintTests), zero
/// allocations to kill(2) (EmergencyPathAllocationTests); measured in BENCHMARKS.md, sections 1 and 1b.
public enum Footprint {
    /// The running executable's mappings (text, rodata, data), in address order.
    package static func executableMappings() -> [Mapping] {
        guard let executable = try? FileSystem.readLink("/proc/self/exe") else { return [] }
        return Mapping.current().filter { $0.path == executable }
    }

    /// Drops the pages start needed. Everything the caller runs afterwards faults back in, so it
    /// must run only what the loop needs (and the mapping list is gathered before, not after).
    public static func settle(_ mappings: [Mapping]) {
        for mapping in mappings {
            let (start, end) = (mapping.start, mapping.end)
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
