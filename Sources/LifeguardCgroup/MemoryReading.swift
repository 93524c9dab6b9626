import LifeguardSystem

/// One sample of the cgroup's memory.
///
/// The guard decides on `unreclaimable`: what the kernel cannot take back without killing. Clean page
/// cache is not in it, because the kernel reclaims clean cache, active or inactive, long before it
/// kills anything (a full cache is the normal state of a container that reads or writes files). What
/// the kernel cannot take back, measured on this project's machines (BENCHMARKS.md, section 7):
/// - anonymous memory (MEMORY tables, buffers, sort areas), shmem and tmpfs (on the anon lists, so not
///   in the file LRU counts), mlocked pages, and kernel memory, *including* slab the kernel calls
///   reclaimable: 256 MiB cgroups creating 200,000 files next to 200 MiB of anonymous memory were
///   OOM-killed with that slab left (v2: 55 MiB of "reclaimable" slab);
/// - dirty and writeback pages, on cgroup v2 all of them: v2 reclaim does not wait for writeback, and
///   a 256 MiB cgroup with 240 MiB of anonymous memory and writers on a slow disk was OOM-killed with
///   12.6 MiB still dirty or under writeback;
/// - on cgroup v1, dirty and writeback pages above 85 % of the hard limit (`MemoryStat.v1DirtyFloor`):
///   v1 has no per-cgroup dirty limit, so any writer keeps nearly all of a container's cache dirty
///   (a 600 MB dd next to 150 MiB of anonymous memory: 101 MiB of 106 dirty), and the filesystem's own
///   allocations (GFP_NOFS: ext4 buffer heads) cannot wait for writeback. With two writers at disk
///   speed the kernel killed a still process holding 86–96 % of the limit (256 MiB and 1 GiB cgroups;
///   none at 84 % or below; BENCHMARKS.md, section 7, and earlier runs of bench/reclaim.py); with one
///   writer rewriting a file it never did. Counting every dirty page
///   would stop every dump, so on v1 they count only for the part of the limit where the kernel kills:
///   a database next to a writer is stopped from 85 % of the limit, and below it page cache never
///   stops anything.
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
        self.init(usage: usage, stat: MemoryStat(inactiveFile: inactiveFile, activeFile: 0, pendingWrites: 0, countedWritesCap: 0))
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
    /// at disk speed never reads as a burst (its dirty pages count in `unreclaimable`, but on v2 the
    /// kernel's dirty limit keeps them to a fifth of what anonymous memory leaves, and on v1 only their
    /// part above `MemoryStat.v1DirtyFloor` counts).
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
    /// How much of `pendingWrites` counts as unreclaimable (see `MemoryReading`): all of it on v2
    /// (`.max`); on v1 the trigger's distance above `v1DirtyFloor` (`v1CountedWritesCap`), 0 while the
    /// guard is off.
    public var countedWritesCap: UInt64
    /// The fields this kernel's memory.stat lacks that the reading needed (logged once).
    public var missing: MissingFields

    public init(inactiveFile: UInt64, activeFile: UInt64, pendingWrites: UInt64, countedWritesCap: UInt64,
                missing: MissingFields = []) {
        self.inactiveFile = inactiveFile
        self.activeFile = activeFile
        self.pendingWrites = pendingWrites
        self.countedWritesCap = countedWritesCap
        self.missing = missing
    }

    /// The page cache on the file LRU lists: not shmem or tmpfs (on the anon lists), not mlocked pages.
    public var fileCache: UInt64 { inactiveFile &+ activeFile }

    /// The part of the file cache counted as unreclaimable.
    var countedWrites: UInt64 { min(pendingWrites, fileCache, countedWritesCap) }

    /// On cgroup v1, the share of the hard limit from which a process next to writers that keep the
    /// cache dirty was OOM-killed by the kernel (86 % was the lowest measured; see `MemoryReading`).
    public static let v1DirtyFloor = 0.85

    /// On cgroup v1, how much of the dirty and writeback pages counts: the trigger's distance above
    /// `v1DirtyFloor` of the hard limit, so that with the cache dirty the guard stops the database from
    /// there (0 without a hard limit, or with a trigger already below it).
    public static func v1CountedWritesCap(trigger: UInt64, hardLimit: UInt64?) -> UInt64 {
        guard let hardLimit else { return 0 }
        let floor = UInt64(Double(hardLimit) * v1DirtyFloor)
        return trigger > floor ? trigger - floor : 0
    }

    /// memory.stat fields a kernel may lack; each is taken in the direction that stops earlier, never later.
    public struct MissingFields: OptionSet, Equatable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// No active_file: the active cache counts as unreclaimable.
        public static let activeFile = MissingFields(rawValue: 1)
        /// No dirty or writeback figure: the whole file cache counts as pending writes.
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
