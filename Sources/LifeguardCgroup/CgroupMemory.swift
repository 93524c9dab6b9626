import Glibc
import LifeguardSystem

/// The memory files of one cgroup, opened once. Each sample is a `pread` into a buffer allocated at
/// start and a parse over its bytes: sampling allocates nothing, even when the container is full.
public final class CgroupMemory {
    public let location: CgroupLocation
    private let usageFile: FileDescriptor
    private let statFile: FileDescriptor
    /// v2: `memory.max` of the cgroup and each ancestor; v1: `memory.limit_in_bytes`.
    private let limitFiles: [FileDescriptor]
    private let softLimitFile: FileDescriptor?
    private let highFile: FileDescriptor?
    /// v2 `memory.events`, v1 `memory.oom_control`: where the kernel's OOM-kill counter is.
    public let eventsFile: FileDescriptor?
    /// How much of the dirty and writeback pages every reading counts as unreclaimable (`MemoryStat`):
    /// all on v2; on v1 what the guard sets when it computes its trigger (`MemoryStat.v1CountedWritesCap`),
    /// 0 until then.
    public var countedWritesCap: UInt64
    private let buffer: UnsafeMutableRawBufferPointer

    public init(location: CgroupLocation) throws(Errno) {
        self.location = location
        let directory = location.directory
        func optional(_ name: String) -> FileDescriptor? { try? FileDescriptor.open(directory + "/" + name, O_RDONLY) }
        switch location.version {
        case .v1:
            usageFile = try FileDescriptor.open(directory + "/memory.usage_in_bytes", O_RDONLY)
            statFile = try FileDescriptor.open(directory + "/memory.stat", O_RDONLY)
            limitFiles = optional("memory.limit_in_bytes").map { [$0] } ?? []
            softLimitFile = optional("memory.soft_limit_in_bytes")
            highFile = nil
            eventsFile = optional("memory.oom_control")
        case .v2:
            usageFile = try FileDescriptor.open(directory + "/memory.current", O_RDONLY)
            statFile = try FileDescriptor.open(directory + "/memory.stat", O_RDONLY)
            limitFiles = location.selfAndAncestors.compactMap { try? FileDescriptor.open($0 + "/memory.max", O_RDONLY) }
            softLimitFile = optional("memory.low")
            highFile = optional("memory.high")
            eventsFile = optional("memory.events")
        }
        countedWritesCap = location.version == .v2 ? .max : 0
        buffer = .allocate(byteCount: 32 * 1024, alignment: 8)
    }

    deinit {
        for fd in [usageFile, statFile] + limitFiles + [softLimitFile, highFile, eventsFile].compactMap({ $0 }) { fd.close() }
        buffer.deallocate()
    }

    /// Usage in bytes; nil when the file cannot be read or holds garbage.
    public func readUsage() -> UInt64? {
        guard let bytes = readWhole(usageFile) else { return nil }
        return CgroupFileParser.integer(bytes)
    }

    /// The file-cache figures of memory.stat; nil when it cannot be read or lacks `inactive_file`.
    public func readStat() -> MemoryStat? {
        guard let bytes = readWhole(statFile) else { return nil }
        return MemoryStat.parse(bytes, version: location.version, countedWritesCap: countedWritesCap)
    }

    /// A reading: usage always, memory.stat only when `exact`.
    public func read(exact: Bool) -> MemoryReading? {
        guard let usage = readUsage() else { return nil }
        return exact ? completed(MemoryReading(usage: usage)) : MemoryReading(usage: usage)
    }

    /// `reading` with memory.stat added (one more read); nil when memory.stat cannot be read.
    public func completed(_ reading: MemoryReading) -> MemoryReading? {
        guard let stat = readStat() else { return nil }
        return MemoryReading(usage: reading.usage, stat: stat)
    }

    public func readLimits() -> MemoryLimits {
        var hard: UInt64?
        for file in limitFiles {
            if let value = readLimit(file) { hard = min(hard ?? .max, value) }
        }
        if location.version == .v1, let bytes = readWhole(statFile),
           let hierarchical = CgroupFileParser.keyedValue(bytes, key: "hierarchical_memory_limit"),
           hierarchical < CgroupFileParser.unlimitedThreshold {
            hard = min(hard ?? .max, hierarchical)
        }
        return MemoryLimits(hard: hard, soft: softLimitFile.flatMap(readLimit), high: highFile.flatMap(readLimit))
    }

    /// The kernel's OOM-kill counter for this cgroup (`oom_kill` in memory.events or memory.oom_control).
    public func readOOMKills() -> UInt64? {
        guard let eventsFile, let bytes = readWhole(eventsFile) else { return nil }
        return CgroupFileParser.keyedValue(bytes, key: "oom_kill")
    }

    private func readLimit(_ file: FileDescriptor) -> UInt64? {
        guard let bytes = readWhole(file) else { return nil }
        return CgroupFileParser.limit(bytes).bytes
    }

    /// The file's content in the shared buffer (valid until the next read), or nil on error. A cgroup
    /// file is generated whole by each read from offset 0, so one pread is the whole file (up to the
    /// buffer's 32 KB; memory.stat is about 1.5 KB): a sample is one system call.
    private func readWhole(_ file: FileDescriptor) -> UnsafeRawBufferPointer? {
        let total: Int
        do {
            total = try file.read(fromAbsoluteOffset: 0, into: buffer)
        } catch {
            return nil
        }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<total])
    }
}
