@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Cgroup files and discovery")
struct CgroupTests {
    func parse<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        var text = text
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    @Test("integers: good, garbage, truncated, overflow")
    func integers() {
        #expect(parse("123\n") { CgroupFileParser.integer($0) } == 123)
        #expect(parse("0") { CgroupFileParser.integer($0) } == 0)
        #expect(parse(" 42 \n") { CgroupFileParser.integer($0) } == 42)
        for bad in ["", "\n", "abc", "12a", "-1", "1 2", "99999999999999999999999", "1.5"] {
            #expect(parse(bad) { CgroupFileParser.integer($0) } == nil, "\(bad)")
        }
    }

    @Test("limits: max, the v1 sentinel, bytes, garbage")
    func limits() {
        #expect(parse("max\n") { CgroupFileParser.limit($0) } == .unlimited)
        #expect(parse("9223372036854771712\n") { CgroupFileParser.limit($0) } == .unlimited)
        #expect(parse("268435456\n") { CgroupFileParser.limit($0) } == .bytes(268_435_456))
        #expect(parse("maxi") { CgroupFileParser.limit($0) } == .invalid)
        #expect(parse("") { CgroupFileParser.limit($0) } == .invalid)
        #expect(CgroupFileParser.Limit.invalid.bytes == nil)
    }

    @Test("keyed files: whole keys only, missing keys, bad values, truncation")
    func keyed() {
        let stat = "cache 5\ninactive_file 7\ntotal_inactive_file 11\nhierarchical_memory_limit 9\n"
        #expect(parse(stat) { CgroupFileParser.keyedValue($0, key: "inactive_file") } == 7)
        #expect(parse(stat) { CgroupFileParser.keyedValue($0, key: "total_inactive_file") } == 11)
        #expect(parse(stat) { CgroupFileParser.keyedValue($0, key: "active_file") } == nil)
        #expect(parse("oom_kill_disable 0\noom_kill 3") { CgroupFileParser.keyedValue($0, key: "oom_kill") } == 3)
        #expect(parse("oom_kill x\n") { CgroupFileParser.keyedValue($0, key: "oom_kill") } == nil)
        #expect(parse("total_inactive_fi") { CgroupFileParser.keyedValue($0, key: "total_inactive_file") } == nil)
        #expect(parse("total_inactive_file ") { CgroupFileParser.keyedValue($0, key: "total_inactive_file") } == nil)
        #expect(parse("") { CgroupFileParser.keyedValue($0, key: "oom_kill") } == nil)
    }

    // MARK: - Discovery

    @Test("v1: the memory line of /proc/self/cgroup, under <root>/memory")
    func discoverV1() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory", usage: 1)
        try tree.v1Cgroup("memory/system.slice/db.service", usage: 1)
        let cgroup = "12:pids:/system.slice\n4:memory:/system.slice/db.service\n1:name=systemd:/x\n0::/x\n"
        let location = CgroupLocation.discover(root: tree.root, procSelfCgroup: cgroup, mountInfo: nil, exists: tree.exists)
        #expect(location == CgroupLocation(version: .v1, directory: tree.root + "/memory/system.slice/db.service",
                                           mountPoint: tree.root + "/memory"))
    }

    @Test("v1 with combined controllers on one hierarchy")
    func discoverV1Combined() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory", usage: 1)
        try tree.v1Cgroup("memory/a", usage: 1)
        let location = CgroupLocation.discover(root: tree.root + "/", procSelfCgroup: "3:cpu,memory:/a\n", mountInfo: nil, exists: tree.exists)
        #expect(location?.directory == tree.root + "/memory/a")
    }

    @Test("Docker on v1: the host path is not mounted, the mount root is the container's cgroup")
    func discoverDockerV1() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory", usage: 1)
        let id = "0123456789abcdef"
        let cgroup = "4:memory:/docker/\(id)\n"
        // Without mountinfo: the path does not exist, fall back to the mount root.
        let fallback = CgroupLocation.discover(root: tree.root, procSelfCgroup: cgroup, mountInfo: nil, exists: tree.exists)
        #expect(fallback == CgroupLocation(version: .v1, directory: tree.root + "/memory", mountPoint: tree.root + "/memory",
                                           usedMountRootFallback: true))
        // With mountinfo saying the mount's root is /docker/<id>: the mount root, no fallback needed.
        let mountInfo = "873 862 0:40 /docker/\(id) \(tree.root)/memory ro,nosuid,nodev,noexec,relatime master:20 - cgroup cgroup rw,memory\n"
        let exact = CgroupLocation.discover(root: tree.root, procSelfCgroup: cgroup, mountInfo: mountInfo, exists: tree.exists)
        #expect(exact == CgroupLocation(version: .v1, directory: tree.root + "/memory", mountPoint: tree.root + "/memory"))
        // A nested cgroup below the container's: found below the mount root.
        try tree.v1Cgroup("memory/inner", usage: 1)
        let nested = CgroupLocation.discover(root: tree.root, procSelfCgroup: "4:memory:/docker/\(id)/inner\n",
                                             mountInfo: mountInfo, exists: tree.exists)
        #expect(nested?.directory == tree.root + "/memory/inner")
    }

    @Test("v2: 0::/path, a private namespace's /, nested paths, (deleted)")
    func discoverV2() throws {
        let tree = try FixtureTree(["cgroup.controllers": "cpu io memory pids\n"])
        try tree.v2Cgroup("", usage: 1)
        try tree.v2Cgroup("kubepods/pod1/ctr", usage: 1)
        let root = CgroupLocation.discover(root: tree.root, procSelfCgroup: "0::/\n", mountInfo: nil, exists: tree.exists)
        #expect(root == CgroupLocation(version: .v2, directory: tree.root, mountPoint: tree.root))
        let nested = CgroupLocation.discover(root: tree.root, procSelfCgroup: "0::/kubepods/pod1/ctr\n", mountInfo: nil, exists: tree.exists)
        #expect(nested?.directory == tree.root + "/kubepods/pod1/ctr")
        #expect(nested?.selfAndAncestors == [tree.root + "/kubepods/pod1/ctr", tree.root + "/kubepods/pod1",
                                             tree.root + "/kubepods", tree.root])
        let deleted = CgroupLocation.discover(root: tree.root, procSelfCgroup: "0::/kubepods/pod1/ctr (deleted)\n", mountInfo: nil, exists: tree.exists)
        #expect(deleted?.directory == tree.root + "/kubepods/pod1/ctr")
        let missing = CgroupLocation.discover(root: tree.root, procSelfCgroup: "0::/gone\n", mountInfo: nil, exists: tree.exists)
        #expect(missing?.usedMountRootFallback == true)
    }

    @Test("no memory controller: the host's root v2 cgroup, an empty file, no memory hierarchy")
    func discoverNothing() throws {
        let tree = try FixtureTree(["cgroup.controllers": "cpu\n", "cgroup.procs": "1\n"])
        #expect(CgroupLocation.discover(root: tree.root, procSelfCgroup: "0::/\n", mountInfo: nil, exists: tree.exists) == nil)
        #expect(CgroupLocation.discover(root: tree.root, procSelfCgroup: "", mountInfo: nil, exists: tree.exists) == nil)
        #expect(CgroupLocation.discover(root: tree.root, procSelfCgroup: "4:memory:/x\n", mountInfo: nil, exists: tree.exists) == nil)
        #expect(CgroupLocation.discover(root: tree.root, procSelfCgroup: "garbage\n::\n", mountInfo: nil, exists: tree.exists) == nil)
    }

    @Test("hybrid: memory on v1 wins over the unified hierarchy")
    func discoverHybrid() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory", usage: 1)
        try tree.v1Cgroup("memory/db", usage: 1)
        try tree.v2Cgroup("unified/db", usage: 1)
        let location = CgroupLocation.discover(root: tree.root, procSelfCgroup: "4:memory:/db\n0::/db\n", mountInfo: nil, exists: tree.exists)
        #expect(location?.version == .v1)
    }

    // MARK: - Readings

    @Test("v1 readings: usage, limits (hierarchical), soft limit, OOM kills")
    func readV1() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory/db", usage: 200_000_000, inactiveFile: 50_000_000, activeFile: 30_000_000,
                          dirty: 20_000_000, writeback: 5_000_000, limit: "9223372036854771712",
                          hierarchical: "268435456", soft: "255013684", oomKills: 2)
        let memory = try CgroupMemory(location: CgroupLocation(version: .v1, directory: tree.root + "/memory/db", mountPoint: tree.root + "/memory"))
        #expect(memory.readUsage() == 200_000_000)
        #expect(memory.readStat() == MemoryStat(inactiveFile: 50_000_000, activeFile: 30_000_000, pendingWrites: 25_000_000,
                                                countedWritesCap: 0))
        #expect(memory.readLimits() == MemoryLimits(hard: 268_435_456, soft: 255_013_684, high: nil))
        #expect(memory.readOOMKills() == 2)
    }

    /// On v1 dirty pages count only above 85 % of the hard limit (BENCHMARKS.md, section 7): the guard
    /// sets the cap when it computes its trigger; without a guard nothing of the file cache counts.
    @Test("v1: unreclaimable is usage less the file cache, and dirty pages above 85 % of the limit once the guard is on")
    func unreclaimableV1() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory/db", usage: 250_000_000, inactiveFile: 20_000_000, activeFile: 10_000_000,
                          dirty: 20_000_000, writeback: 5_000_000, limit: "268435456")
        let location = CgroupLocation(version: .v1, directory: tree.root + "/memory/db", mountPoint: tree.root + "/memory")
        let memory = try CgroupMemory(location: location)
        var reading = try #require(memory.read(exact: true))
        #expect(reading.unreclaimable == 220_000_000)
        #expect(reading.anonymousAndKernel == 220_000_000)
        #expect(reading.workingSet == 230_000_000)
        #expect(reading.stat?.fileCache == 30_000_000)
        #expect(reading.stat?.missing == [])
        // The guard on (trigger 255,652,815, 85 % of the limit 228,170,137): up to 27,482,678 bytes of
        // dirty and writeback pages count; here all 25,000,000.
        let guardian = MemoryGuard(cgroup: memory, trigger: .automatic, headroom: .percent(5), policy: .init())
        let events = guardian.refresh(now: .now())
        #expect(memory.countedWritesCap == 27_482_678)
        #expect(events.contains(.armed(trigger: 255_652_815, limits: MemoryLimits(hard: 268_435_456), dirtyFloor: 228_170_137)))
        reading = try #require(memory.read(exact: true))
        #expect(reading.unreclaimable == 245_000_000 && reading.anonymousAndKernel == 220_000_000)
        // More dirty than the cap: the cap.
        try tree.v1Cgroup("memory/db", usage: 256_000_000, inactiveFile: 40_000_000, activeFile: 10_000_000,
                          dirty: 40_000_000, writeback: 5_000_000, limit: "268435456")
        reading = try #require(memory.read(exact: true))
        #expect(reading.unreclaimable == 206_000_000 + 27_482_678)
    }

    /// v2 reclaim does not wait for writeback: dirty and writeback pages count (section 7).
    @Test("v2: unreclaimable counts dirty and writeback pages; the growth figure leaves all the file cache out")
    func unreclaimableV2() throws {
        let tree = try FixtureTree()
        try tree.v2Cgroup("ctr", usage: 200_000_000, inactiveFile: 50_000_000, activeFile: 30_000_000,
                          dirty: 20_000_000, writeback: 5_000_000, max: "268435456")
        let memory = try CgroupMemory(location: CgroupLocation(version: .v2, directory: tree.root + "/ctr", mountPoint: tree.root))
        let reading = try #require(memory.read(exact: true))
        #expect(reading.unreclaimable == 145_000_000)
        #expect(reading.anonymousAndKernel == 120_000_000)
        #expect(reading.workingSet == 150_000_000)
        // Usage alone stands in for every figure, as an upper bound.
        let usageOnly = try #require(memory.read(exact: false))
        #expect(usageOnly.unreclaimable == 200_000_000 && usageOnly.workingSet == 200_000_000 && !usageOnly.isExact)
    }

    @Test("kernels that lack a field: counted in the direction that stops earlier, and said")
    func missingFields() throws {
        let tree = try FixtureTree()
        let v2 = CgroupLocation(version: .v2, directory: tree.root + "/ctr", mountPoint: tree.root)
        // No active_file: the active cache counts.
        try tree.v2Cgroup("ctr", usage: 200, stat: "anon 100\ninactive_file 50\nfile_dirty 0\nfile_writeback 0\n")
        var reading = try #require(try CgroupMemory(location: v2).read(exact: true))
        #expect(reading.unreclaimable == 150 && reading.stat?.missing == .activeFile)
        // No dirty/writeback on v2, where they count: the whole file cache counts.
        try tree.v2Cgroup("ctr", usage: 200, stat: "inactive_file 50\nactive_file 30\n")
        reading = try #require(try CgroupMemory(location: v2).read(exact: true))
        #expect(reading.unreclaimable == 200 && reading.stat?.missing == .pendingWrites)
        #expect(reading.anonymousAndKernel == 120, "the growth figure still leaves the cache out")
        // A value that is not a number is a missing field.
        try tree.v2Cgroup("ctr", usage: 200, stat: "inactive_file 50\nactive_file x\nfile_dirty 1\nfile_writeback 1\n")
        reading = try #require(try CgroupMemory(location: v2).read(exact: true))
        #expect(reading.unreclaimable == 152 && reading.stat?.missing == .activeFile)
        // v1 without dirty figures: with no guard (nothing of the cache counts) no change; with the guard's
        // cap, the whole cache counts up to it. Without total_active_file the active cache counts.
        let v1 = CgroupLocation(version: .v1, directory: tree.root + "/memory/db", mountPoint: tree.root + "/memory")
        try tree.v1Cgroup("memory/db", usage: 200, stat: "total_inactive_file 50\ntotal_active_file 30\n")
        let v1Memory = try CgroupMemory(location: v1)
        reading = try #require(v1Memory.read(exact: true))
        #expect(reading.unreclaimable == 120 && reading.stat?.missing == [])
        v1Memory.countedWritesCap = 60
        reading = try #require(v1Memory.read(exact: true))
        #expect(reading.unreclaimable == 180 && reading.stat?.missing == .pendingWrites)
        try tree.v1Cgroup("memory/db", usage: 200, stat: "inactive_file 7\nactive_file 8\ntotal_inactive_file 50\n")
        reading = try #require(try CgroupMemory(location: v1).read(exact: true))
        #expect(reading.unreclaimable == 150 && reading.stat?.missing == .activeFile)
        // No inactive_file at all: not a memory.stat this code understands; no reading (retried).
        try tree.v1Cgroup("memory/db", usage: 200, stat: "inactive_file 7\nactive_file 8\n")
        #expect(try CgroupMemory(location: v1).read(exact: true) == nil)
    }

    @Test("real kernels' memory.stat: this host's v1 (6.18) and Debian 12's v2 (6.1)")
    func realKernelSamples() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory/db", usage: 1_206_521_856, stat: KernelSamples.v1Stat)
        let v1 = try #require(try CgroupMemory(location: CgroupLocation(version: .v1, directory: tree.root + "/memory/db",
                                                                          mountPoint: tree.root + "/memory")).read(exact: true))
        #expect(v1.stat == MemoryStat(inactiveFile: 867_979_264, activeFile: 336_723_968, pendingWrites: 57_184_256, countedWritesCap: 0))
        #expect(v1.unreclaimable == 1_818_624)  // rss, 1.7 MiB: 1.2 GB of usage was page cache
        try tree.v2Cgroup("ctr", usage: KernelSamples.v2Current, stat: KernelSamples.v2Stat)
        let v2 = try #require(try CgroupMemory(location: CgroupLocation(version: .v2, directory: tree.root + "/ctr",
                                                                          mountPoint: tree.root)).read(exact: true))
        #expect(v2.stat?.missing == [])
        #expect(v2.unreclaimable == KernelSamples.v2Unreclaimable)
    }

    @Test("the keyed-line scanner: every key in one pass, whole keys, lines without a value skipped")
    func keyedLines() {
        let text = "a 1\nbb 22\nnovalue\n c 3\nd x\n\ne 5"
        let found: [(String, UInt64?)] = parse(text) { bytes in
            var lines = CgroupFileParser.KeyedLines(bytes)
            var result: [(String, UInt64?)] = []
            while let line = lines.next() {
                if line.key.equals("a") { result.append(("a", line.value)) }
                if line.key.equals("bb") { result.append(("bb", line.value)) }
                if line.key.equals("b") || line.key.equals("c") { result.append(("wrong", line.value)) }
                if line.key.equals("d") { result.append(("d", line.value)) }
                if line.key.equals("e") { result.append(("e", line.value)) }
            }
            return result
        }
        #expect(found.map(\.0) == ["a", "bb", "d", "e"])
        #expect(found.map(\.1) == [1, 22, nil, 5])
    }

    @Test("files that vanish or hold garbage mid-run give no reading, and recover")
    func vanishingFiles() throws {
        let tree = try FixtureTree()
        try tree.v2Cgroup("ctr", usage: 100, max: "1000")
        let memory = try CgroupMemory(location: CgroupLocation(version: .v2, directory: tree.root + "/ctr", mountPoint: tree.root))
        #expect(memory.readUsage() == 100)
        try tree.write("ctr/memory.current", "garbage\n")
        #expect(memory.readUsage() == nil)
        try tree.write("ctr/memory.current", "")
        #expect(memory.readUsage() == nil)
        try tree.write("ctr/memory.stat", "anon 5\n")  // truncated: no inactive_file
        #expect(memory.read(exact: true) == nil)
        try tree.write("ctr/memory.current", "250\n")
        try tree.write("ctr/memory.stat", "inactive_file 50\nactive_file 0\nfile_dirty 0\nfile_writeback 0\n")
        #expect(memory.read(exact: true)?.workingSet == 200)
        #expect(memory.read(exact: true)?.unreclaimable == 200)
        try tree.write("ctr/memory.max", "bogus")
        #expect(memory.readLimits().hard == nil)
    }

    @Test("a cgroup without its files cannot be opened")
    func missingFiles() throws {
        let tree = try FixtureTree(["ctr/memory.max": "max\n"])
        #expect(throws: Errno.self) {
            try CgroupMemory(location: CgroupLocation(version: .v2, directory: tree.root + "/ctr", mountPoint: tree.root))
        }
    }
}
