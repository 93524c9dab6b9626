import Glibc

/// One line of /proc/self/maps: an address range, whether it is executable, and what backs it.
public struct Mapping: Equatable, Sendable {
    public var start: UInt
    public var end: UInt
    public var executable: Bool
    /// The file's path, `[heap]`, `[stack]`…, or "" for an anonymous mapping.
    public var path: Substring

    public init(start: UInt, end: UInt, executable: Bool = false, path: Substring = "") {
        self.start = start
        self.end = end
        self.executable = executable
        self.path = path
    }

    public var length: UInt64 { UInt64(end - start) }

    /// Parses /proc/PID/maps text; lines that do not parse are skipped.
    public static func parse(_ maps: String) -> [Mapping] {
        maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                  start < end else { return nil }
            let path = fields.count == 6 ? fields[5].drop { $0 == " " } : ""
            return Mapping(start: start, end: end, executable: fields[1].dropFirst(2).first == "x", path: path)
        }
    }

    /// This process's mappings.
    public static func current() -> [Mapping] {
        guard let maps = try? FileDescriptor.readText("/proc/self/maps") else { return [] }
        return parse(maps)
    }
}

/// How much of Lifeguard's memory `Footprint.lock` locked (residency rule 1).
public enum MemoryLock: Equatable, Sendable {
    /// Everything, current and future, as it faults in (mlockall).
    case all
    /// mlockall was refused (RLIMIT_MEMLOCK is below Lifeguard's address space, which the output
    /// thread's malloc arena alone makes 64 MiB; Docker's default limit is 8 MiB): the executable's
    /// mappings, code first, then the heap and the stack, locked one by one within the limit.
    /// `complete`: every one of them as a whole (as it faults in); otherwise the last ones only
    /// for the pages resident when locked, or not at all.
    case regions(lockedBytes: UInt64, limit: UInt64?, complete: Bool)
    /// Nothing could be locked.
    case none(Errno)
}

extension Footprint {
    /// Locks current and future pages as they fault in (MCL_ONFAULT: nothing is read in for it), or,
    /// where the limit forbids that, what the guard's own code and data need most (`MemoryLock.regions`).
    /// Only file-backed pages can be evicted without swap; the heap and stack come after the executable.
    public static func lock() -> MemoryLock {
        let refusal: Errno
        do {
            try MemoryCalls.lockAllOnFault()
            return .all
        } catch {
            refusal = error
        }
        let limit = MemoryCalls.lockLimit()
        let page = UInt(MemoryCalls.pageSize)
        let mappings = Mapping.current()
        let executable = (try? FileSystem.readLink("/proc/self/exe")).map { path in mappings.filter { $0.path == path } } ?? []
        let regions = lockOrder(executable + mappings.filter { $0.path == "[heap]" || $0.path == "[stack]" })
        let ranges = lockPlan(regions, budget: limit ?? .max, pageSize: page) { region in
            try? MemoryCalls.residentPages(region.start, region.end)
        }
        var locked: UInt64 = 0
        var complete = ranges.complete
        for range in ranges.ranges {
            do {
                try MemoryCalls.lockOnFault(range.start, range.end)
                locked += range.length
            } catch {
                complete = false
            }
        }
        return locked == 0 ? .none(refusal) : .regions(lockedBytes: locked, limit: limit, complete: complete)
    }

    /// Code first (a refault of the loop's code is what stalls it), then the rest in address order.
    package static func lockOrder(_ regions: [Mapping]) -> [Mapping] {
        regions.filter(\.executable) + regions.filter { !$0.executable }
    }

    /// The ranges to lock within `budget` bytes: each region whole while it fits; past that, the runs
    /// of its pages that `resident` reports in memory, as far as the budget goes (the loop's pages
    /// are resident: it has just run). `complete` when every region was taken whole.
    package static func lockPlan(_ regions: [Mapping], budget: UInt64, pageSize: UInt,
                                 resident: (Mapping) -> [Bool]?) -> (ranges: [Mapping], complete: Bool) {
        var remaining = budget
        var ranges: [Mapping] = []
        var complete = true
        for region in regions {
            if region.length <= remaining {
                ranges.append(region)
                remaining -= region.length
                continue
            }
            complete = false
            guard remaining >= UInt64(pageSize), let pages = resident(region) else { continue }
            var index = 0
            while index < pages.count && remaining >= UInt64(pageSize) {
                guard pages[index] else {
                    index += 1
                    continue
                }
                var end = index
                while end < pages.count && pages[end] && UInt64(end - index + 1) * UInt64(pageSize) <= remaining { end += 1 }
                let run = Mapping(start: region.start + UInt(index) * pageSize, end: region.start + UInt(end) * pageSize,
                                  executable: region.executable, path: region.path)
                ranges.append(run)
                remaining -= run.length
                index = end
            }
        }
        return (ranges, complete)
    }
}
