/// One sample of the cgroup's memory.
///
/// The guard decides on `unreclaimable`: what the kernel cannot take back without killing. Page cache
/// is not in it, because the kernel reclaims clean cache, active or inactive, long before it kills
/// anything (a full cache is the normal state of a container that reads or writes files). What the
/// kernel cannot take back, measured on this project's machines (BENCHMARKS.md, section 7):
/// - anonymous memory (MEMORY tables, buffers, sort areas), shmem and tmpfs (on the anon lists, so not
///   in the file LRU counts), mlocked pages, and kernel memory, *including* slab the kernel calls
///   reclaimable: 256 MiB cgroups creating 200,000 files next to 200 MiB of anonymous memory were
///   OOM-killed with that slab left (v2: 55 MiB of "reclaimable" slab);
/// - on cgroup v2 only, dirty and writeback pages: v2 reclaim does not wait for writeback, and a
///   256 MiB cgroup with 240 MiB of anonymous memory and writers on a slow disk was OOM-killed with
///   12.6 MiB still dirty or under writeback. v1 reclaim mostly waits for writeback (no kill in 18 VM
///   trials over two runs at 230–240 MiB with the same writers; on the host one of four at 236 MiB,
///   with 15 MiB dirty left), and v1 has no per-cgroup dirty limit, so counting dirty pages there
///   would stop every dump: on v1 they count as reclaimable, only slower.
public struct MemoryReading: Equatable, Sendable {
    /// `memory.usage_in_bytes` (v1) or `memory.current` (v2): everything charged, page cache included.
    public var usage: UInt64
    /// The parts of `memory.stat` the guard uses; nil when only usage was read, which is enough while
    /// usage is below the exact-reading threshold (no part of usage can be above usage).
    public var stat: MemoryStat?

    public init(usage: UInt64, stat: MemoryStat? = nil) {
        self.usage = usage
        self.stat = stat
    }

    /// A reading with the inactive file cache alone known (tests, and the emergency path's warm-up).
    public init(usage: UInt64, inactiveFile: UInt64) {
        self.init(usage: usage, stat: MemoryStat(inactiveFile: inactiveFile, activeFile: 0, pendingWrites: 0))
    }

    /// Whether `unreclaimable` comes from memory.stat rather than usage standing in for it.
    public var isExact: Bool { stat != nil }

    /// What the guard decides on: usage less the page cache the kernel can reclaim in time. Without
    /// memory.stat, usage (an upper bound).
    public var unreclaimable: UInt64 {
        guard let stat else { return usage }
        return min(usage, anonymousAndKernel + stat.countedWrites)
    }

    /// Usage less all the file cache: anonymous memory, shmem/tmpfs and kernel memory, the part that
    /// page cache cannot move. The guard's growth rate is measured on it, so a writer filling the cache
    /// at disk speed never reads as a burst (on v2 its dirty pages count in `unreclaimable`, but the
    /// kernel's dirty limit keeps them to a fifth of what anonymous memory leaves).
    public var anonymousAndKernel: UInt64 {
        guard let stat else { return usage }
        return usage > stat.fileCache ? usage - stat.fileCache : 0
    }

    /// Usage minus the inactive file cache, clamped at 0: what the kubelet and cAdvisor call the
    /// working set (`kubectl top`, `docker stats`). Reported next to `unreclaimable`; never decided on.
    public var workingSet: UInt64 {
        guard let stat else { return usage }
        return usage > stat.inactiveFile ? usage - stat.inactiveFile : 0
    }
}

/// The file-cache figures of `memory.stat` (hierarchical `total_*` keys on v1).
public struct MemoryStat: Equatable, Sendable {
    /// `inactive_file`: what the kubelet's working set leaves out.
    public var inactiveFile: UInt64
    /// `active_file`; 0 when the kernel does not report it (the active cache then counts as
    /// unreclaimable: a field that is not there is never taken as reclaimable).
    public var activeFile: UInt64
    /// Dirty and writeback pages (`file_dirty` + `file_writeback` on v2, `total_dirty` +
    /// `total_writeback` on v1), for the status and the log. Part of the file LRU lists.
    public var pendingWrites: UInt64
    /// Whether the kernel cannot reclaim `pendingWrites` in time, so they count as unreclaimable: true
    /// on cgroup v2 (see `MemoryReading`).
    public var pendingWritesCount: Bool
    /// The fields this kernel's memory.stat lacks that the reading needed (logged once).
    public var missing: MissingFields

    public init(inactiveFile: UInt64, activeFile: UInt64, pendingWrites: UInt64, pendingWritesCount: Bool = false,
                missing: MissingFields = []) {
        self.inactiveFile = inactiveFile
        self.activeFile = activeFile
        self.pendingWrites = pendingWrites
        self.pendingWritesCount = pendingWritesCount
        self.missing = missing
    }

    /// The page cache on the file LRU lists: not shmem or tmpfs (on the anon lists), not mlocked pages.
    public var fileCache: UInt64 { inactiveFile &+ activeFile }

    /// The part of the file cache counted as unreclaimable.
    var countedWrites: UInt64 { pendingWritesCount ? min(pendingWrites, fileCache) : 0 }

    /// memory.stat fields a kernel may lack; each is taken in the direction that stops earlier, never later.
    public struct MissingFields: OptionSet, Equatable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// No active_file: the active cache counts as unreclaimable.
        public static let activeFile = MissingFields(rawValue: 1)
        /// No dirty or writeback figure where they count (v2): the whole file cache counts.
        public static let pendingWrites = MissingFields(rawValue: 2)
    }
}

/// The limits around the cgroup, re-read every status interval (`docker update` can change them).
public struct MemoryLimits: Equatable, Sendable {
    /// The effective hard limit: the smallest `memory.max` / `memory.limit_in_bytes` of the cgroup
    /// and its ancestors. nil when there is none.
    public var hard: UInt64?
    /// Docker's `--memory-reservation`: `memory.soft_limit_in_bytes` on v1, `memory.low` on v2.
    public var soft: UInt64?
    /// v2 `memory.high` (throttling, no OOM kill), when set.
    public var high: UInt64?

    public init(hard: UInt64? = nil, soft: UInt64? = nil, high: UInt64? = nil) {
        self.hard = hard
        self.soft = soft
        self.high = high
    }
}
