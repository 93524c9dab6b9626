import Foundation

/// A temporary directory tree of files, in the manner of swift-nio's cgroup tests: readers take paths,
/// tests feed them good and bad content.
final class FixtureTree {
    let root: String

    init(_ files: [String: String] = [:]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-fixture-\(UUID())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (path, content) in files { try write(path, content) }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func write(_ path: String, _ content: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try content.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: root + "/" + path) }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// A v1 memory cgroup's files at `directory` (relative to the tree); `stat` replaces memory.stat.
    func v1Cgroup(_ directory: String, usage: UInt64, inactiveFile: UInt64 = 0, activeFile: UInt64 = 0, dirty: UInt64 = 0,
                  writeback: UInt64 = 0, limit: String = "268435456", hierarchical: String = "9223372036854771712",
                  soft: String = "9223372036854771712", oomKills: Int = 0, stat: String? = nil) throws {
        try write("\(directory)/memory.usage_in_bytes", "\(usage)\n")
        try write("\(directory)/memory.limit_in_bytes", "\(limit)\n")
        try write("\(directory)/memory.soft_limit_in_bytes", "\(soft)\n")
        try write("\(directory)/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill \(oomKills)\n")
        // The non-hierarchical keys differ from the total_* ones on purpose: only total_* may be read.
        try write("\(directory)/memory.stat", stat ?? """
            cache 1000
            rss 2000
            shmem 0
            dirty 3
            writeback 4
            inactive_file 7
            active_file 8
            hierarchical_memory_limit \(hierarchical)
            total_cache \(inactiveFile + activeFile)
            total_rss 2000
            total_dirty \(dirty)
            total_writeback \(writeback)
            total_inactive_file \(inactiveFile)
            total_active_file \(activeFile)

            """)
    }

    /// A v2 cgroup's files at `directory`; `stat` replaces memory.stat.
    func v2Cgroup(_ directory: String, usage: UInt64, inactiveFile: UInt64 = 0, activeFile: UInt64 = 0, dirty: UInt64 = 0,
                  writeback: UInt64 = 0, max: String = "max", low: String = "0", high: String = "max", oomKills: Int = 0,
                  stat: String? = nil) throws {
        let prefix = directory.isEmpty ? "" : directory + "/"
        try write("\(prefix)memory.current", "\(usage)\n")
        try write("\(prefix)memory.max", "\(max)\n")
        try write("\(prefix)memory.low", "\(low)\n")
        try write("\(prefix)memory.high", "\(high)\n")
        try write("\(prefix)memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill \(oomKills)\noom_group_kill 0\n")
        try write("\(prefix)memory.stat", stat ?? """
            anon 100
            file \(inactiveFile + activeFile)
            kernel 64
            shmem 0
            file_dirty \(dirty)
            file_writeback \(writeback)
            active_anon 5
            inactive_anon 95
            inactive_file \(inactiveFile)
            active_file \(activeFile)
            slab_reclaimable 30

            """)
    }
}
