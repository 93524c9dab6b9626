@testable import LifeguardCore
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

    @Test("v1 readings: usage, working set, limits (hierarchical), soft limit, OOM kills")
    func readV1() throws {
        let tree = try FixtureTree()
        try tree.v1Cgroup("memory/db", usage: 200_000_000, inactiveFile: 50_000_000, limit: "9223372036854771712",
                          hierarchical: "268435456", soft: "255013684", oomKills: 2)
        let memory = try CgroupMemory(location: CgroupLocation(version: .v1, directory: tree.root + "/memory/db", mountPoint: tree.root + "/memory"))
        #expect(memory.readUsage() == 200_000_000)
        #expect(memory.readInactiveFile() == 50_000_000)
        #expect(memory.read(exact: true) == MemoryReading(usage: 200_000_000, inactiveFile: 50_000_000))
        #expect(memory.read(exact: true)?.workingSet == 150_000_000)
        #expect(memory.readLimits() == MemoryLimits(hard: 268_435_456, soft: 255_013_684, high: nil))
        #expect(memory.readOOMKills() == 2)
    }

    @Test("v2 readings: the smallest memory.max up the tree, memory.low, memory.high")
    func readV2() throws {
        let tree = try FixtureTree()
        try tree.v2Cgroup("", usage: 1)
        try tree.v2Cgroup("pod", usage: 1, max: "268435456")
        try tree.v2Cgroup("pod/ctr", usage: 123, inactiveFile: 200, max: "max", low: "255013684", high: "260000000", oomKills: 1)
        let memory = try CgroupMemory(location: CgroupLocation(version: .v2, directory: tree.root + "/pod/ctr", mountPoint: tree.root))
        #expect(memory.read(exact: true)?.workingSet == 0)  // inactive file above usage clamps at 0
        #expect(memory.readLimits() == MemoryLimits(hard: 268_435_456, soft: 255_013_684, high: 260_000_000))
        #expect(memory.readOOMKills() == 1)
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
        try tree.write("ctr/memory.stat", "inactive_file 50\n")
        #expect(memory.read(exact: true)?.workingSet == 200)
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
