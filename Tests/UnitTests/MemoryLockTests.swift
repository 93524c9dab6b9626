import LifeguardSystem
import Testing

/// Residency rule 1 where mlockall is refused (Docker's RLIMIT_MEMLOCK of 8 MiB is below the 64 MiB
/// address space the output thread's malloc arena reserves): what is locked, in which order, within
/// which budget. The real lock, under a real limit and without CAP_IPC_LOCK, is in FootprintTests.
@Suite("Memory lock, region by region")
struct MemoryLockTests {
    static let page: UInt = 4096

    @Test("/proc/PID/maps lines: ranges, the execute bit, paths with spaces, anonymous mappings; bad lines skipped")
    func parseMaps() {
        let maps = """
            00200000-002f1000 r--p 00000000 fe:00 9258334                            /usr/local/bin/lifeguard
            002f1000-007d2000 r-xp 000f0000 fe:00 9258334                            /usr/local/bin/lifeguard
            00925000-0095a000 rw-p 00000000 00:00 0 
            36b32000-36b75000 rw-p 00000000 00:00 0                                  [heap]
            7f0000000000-7f0000001000 r-xp 00000000 fe:00 12                         /opt/my tools/bin/a b
            zzzz-0001 r--p 00000000 00:00 0
            00003000-00001000 r--p 00000000 00:00 0
            garbage
            """
        let mappings = Mapping.parse(maps)
        #expect(mappings == [
            Mapping(start: 0x200000, end: 0x2f1000, executable: false, path: "/usr/local/bin/lifeguard"),
            Mapping(start: 0x2f1000, end: 0x7d2000, executable: true, path: "/usr/local/bin/lifeguard"),
            Mapping(start: 0x925000, end: 0x95a000, executable: false, path: ""),
            Mapping(start: 0x36b32000, end: 0x36b75000, executable: false, path: "[heap]"),
            Mapping(start: 0x7f0000000000, end: 0x7f0000001000, executable: true, path: "/opt/my tools/bin/a b"),
        ])
        #expect(Mapping.parse("") == [])
    }

    @Test("this process's own maps hold its executable's code")
    func ownMaps() {
        #expect(Mapping.current().contains { $0.executable && $0.length > 0 })
    }

    @Test("code first, then the rest in address order")
    func order() {
        let data = Mapping(start: 0x1000, end: 0x2000)
        let text = Mapping(start: 0x2000, end: 0x5000, executable: true)
        let heap = Mapping(start: 0x9000, end: 0xa000, path: "[heap]")
        #expect(Footprint.lockOrder([data, text, heap]) == [text, data, heap])
    }

    @Test("every region whole while the budget allows: complete, and nothing asked about residency")
    func wholeRegions() {
        let regions = [Mapping(start: 0x10000, end: 0x14000, executable: true), Mapping(start: 0x20000, end: 0x22000)]
        var asked = 0
        let plan = Footprint.lockPlan(regions, budget: 0x6000, pageSize: Self.page) { _ in
            asked += 1
            return nil
        }
        #expect(plan.complete && plan.ranges == regions && asked == 0)
    }

    @Test("past the budget: the resident runs of the region that does not fit, cut where the budget ends")
    func residentRuns() {
        let text = Mapping(start: 0x10000, end: 0x12000, executable: true)
        let data = Mapping(start: 0x20000, end: 0x28000)  // 8 pages: resident 1, 2, 3, 5, 6, 7
        let resident = [false, true, true, true, false, true, true, true]
        let plan = Footprint.lockPlan([text, data], budget: 0x2000 + 5 * 0x1000, pageSize: Self.page) { region in
            region == data ? resident : nil
        }
        #expect(!plan.complete)
        #expect(plan.ranges == [text, Mapping(start: 0x21000, end: 0x24000), Mapping(start: 0x25000, end: 0x27000)])
        let locked = plan.ranges.reduce(0) { $0 + $1.length }
        #expect(locked == 0x2000 + 5 * 0x1000)
    }

    @Test("a budget smaller than a page, or residency unknown: nothing from that region, never more than the budget")
    func tinyBudget() {
        let text = Mapping(start: 0x10000, end: 0x20000, executable: true)
        #expect(Footprint.lockPlan([text], budget: 0xfff, pageSize: Self.page) { _ in Array(repeating: true, count: 16) }
                == ([], false))
        #expect(Footprint.lockPlan([text], budget: 0x8000, pageSize: Self.page) { _ in nil } == ([], false))
        let plan = Footprint.lockPlan([text], budget: 0x8000, pageSize: Self.page) { _ in Array(repeating: true, count: 16) }
        #expect(plan.ranges == [Mapping(start: 0x10000, end: 0x18000, executable: true)])
    }
}
