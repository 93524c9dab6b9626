/// One sample of the cgroup's memory.
public struct MemoryReading: Equatable, Sendable {
    /// `memory.usage_in_bytes` (v1) or `memory.current` (v2): everything charged, page cache included.
    public var usage: UInt64
    /// `total_inactive_file` (v1) or `inactive_file` (v2); nil when only usage was read, which is
    /// enough while usage is below the trigger (the working set is never above usage).
    public var inactiveFile: UInt64?

    public init(usage: UInt64, inactiveFile: UInt64? = nil) {
        self.usage = usage
        self.inactiveFile = inactiveFile
    }

    /// Usage minus the inactive file cache, clamped at 0: what kubelet and cAdvisor call the working
    /// set, and what the kernel cannot simply drop. Without `inactiveFile`, usage (an upper bound).
    public var workingSet: UInt64 {
        guard let inactiveFile else { return usage }
        return usage > inactiveFile ? usage - inactiveFile : 0
    }

    /// Whether `workingSet` is the real working set rather than usage standing in for it.
    public var isExact: Bool { inactiveFile != nil }
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
