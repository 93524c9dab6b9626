import LifeguardSystem

extension MemoryStat {
    /// The figures of one `memory.stat`, in one pass over its bytes, without allocating (this runs on
    /// the emergency path). v1 reads the hierarchical `total_*` keys, v2's keys are hierarchical
    /// already. nil when `inactive_file` is missing: every kernel with a memory controller reports it,
    /// so a file without it is not a memory.stat this code understands (the sample fails and is
    /// retried, rather than deciding on garbage). A missing optional field is taken in the direction
    /// that stops earlier, and named in `missing`. `countedWritesCap`: see `MemoryStat`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, version: CgroupVersion, countedWritesCap: UInt64) -> MemoryStat? {
        var inactive: UInt64?
        var active: UInt64?
        var dirty: UInt64?
        var writeback: UInt64?
        var lines = CgroupFileParser.KeyedLines(bytes)
        while let line = lines.next() {
            let key = line.key
            switch version {
            case .v1:
                if key.equals("total_inactive_file") { inactive = line.value }
                else if key.equals("total_active_file") { active = line.value }
                else if key.equals("total_dirty") { dirty = line.value }
                else if key.equals("total_writeback") { writeback = line.value }
            case .v2:
                if key.equals("inactive_file") { inactive = line.value }
                else if key.equals("active_file") { active = line.value }
                else if key.equals("file_dirty") { dirty = line.value }
                else if key.equals("file_writeback") { writeback = line.value }
            }
        }
        guard let inactive else { return nil }
        var missing: MissingFields = []
        if active == nil { missing.insert(.activeFile) }
        var pending = (dirty ?? 0) &+ (writeback ?? 0)
        if (dirty == nil || writeback == nil) && countedWritesCap > 0 {
            // Where pending writes count, not knowing them counts the whole file cache (up to the cap).
            missing.insert(.pendingWrites)
            pending = inactive &+ (active ?? 0)
        }
        return MemoryStat(inactiveFile: inactive, activeFile: active ?? 0, pendingWrites: pending,
                          countedWritesCap: countedWritesCap, missing: missing)
    }
}
