@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Memory policy and trigger")
struct MemoryPolicyTests {
    static let mib: UInt64 = 1 << 20
    static let hard: UInt64 = 256 * mib
    let t0 = MonotonicInstant(nanoseconds: 0)

    @Test("the trigger: automatic is the hard limit ÷ 1.05, the article's 12.8 MB of 256 MiB")
    func trigger() {
        let auto = TriggerSetting.automatic.resolve(hardLimit: Self.hard, headroom: .percent(5))
        #expect(auto == 255_652_815)
        #expect(Self.hard - auto! > 12_700_000 && Self.hard - auto! < 12_800_000)
        #expect(TriggerSetting.automatic.resolve(hardLimit: nil, headroom: .percent(5)) == nil)
        #expect(TriggerSetting.automatic.resolve(hardLimit: Self.hard, headroom: .bytes(16 * Self.mib)) == 240 * Self.mib)
        #expect(TriggerSetting.percentOfLimit(95).resolve(hardLimit: 1000, headroom: .percent(5)) == 950)
        #expect(TriggerSetting.percentOfLimit(95).resolve(hardLimit: nil, headroom: .percent(5)) == nil)
        #expect(TriggerSetting.bytes(100).resolve(hardLimit: nil, headroom: .percent(5)) == 100)
        #expect(TriggerSetting.off.resolve(hardLimit: Self.hard, headroom: .percent(5)) == nil)
    }

    func policy(trigger: UInt64 = 243 * mib) -> MemoryPolicy {
        MemoryPolicy(settings: .init(), trigger: trigger, hardLimit: Self.hard)
    }

    @Test("fires on the working set at the trigger, never on page cache")
    func firesOnWorkingSet() {
        var policy = policy()
        #expect(policy.evaluate(MemoryReading(usage: 243 * Self.mib, inactiveFile: 0), now: t0) == .fire(.reachedTrigger))
        var cached = self.policy()
        // Usage at the hard limit, but most of it inactive page cache: no stop.
        if case .fire = cached.evaluate(MemoryReading(usage: 256 * Self.mib, inactiveFile: 200 * Self.mib), now: t0) {
            Issue.record("fired on page cache")
        }
        // Usage at the hard limit, most of it *active* page cache (the kubelet's working set says 246
        // MiB, over the trigger): no stop. The kernel reclaims active cache too.
        var active = self.policy()
        let activeCache = MemoryReading(usage: 256 * Self.mib,
                                        stat: MemoryStat(inactiveFile: 10 * Self.mib, activeFile: 200 * Self.mib, pendingWrites: 0,
                                                                         countedWritesCap: 0))
        #expect(activeCache.workingSet == 246 * Self.mib && activeCache.unreclaimable == 46 * Self.mib)
        if case .fire = active.evaluate(activeCache, now: t0) { Issue.record("fired on active page cache") }
        // Usage alone over the trigger never fires: memory.stat must be read first.
        var inexact = self.policy()
        if case .fire = inexact.evaluate(MemoryReading(usage: 250 * Self.mib), now: t0) { Issue.record("fired on usage") }
        #expect(inexact.needsExactReading(usage: 250 * Self.mib))
        #expect(!inexact.needsExactReading(usage: 100 * Self.mib))
    }

    @Test("the interval: about a second when far, milliseconds near the limit")
    func intervals() {
        func interval(_ workingSet: UInt64, hard: UInt64 = Self.hard, trigger: UInt64? = nil) -> Double {
            var policy = MemoryPolicy(settings: .init(), trigger: trigger ?? UInt64(Double(hard) / 1.05), hardLimit: hard)
            guard case .sampleAgain(let after) = policy.evaluate(MemoryReading(usage: workingSet, inactiveFile: 0), now: t0) else {
                Issue.record("fired")
                return -1
            }
            return after.seconds
        }
        let far = interval(77 * Self.mib)  // 30 % of 256 MiB, trigger 243.8 MiB
        #expect(abs(far - 0.038_67) < 0.0001)  // 166.8 MiB to the trigger at 4 GiB/s, less the 2 ms reaction budget
        #expect(abs(interval(230 * Self.mib) - 0.001_36) < 0.0001)  // 13.8 MiB: 3.36 ms, less 2 ms
        #expect(interval(240 * Self.mib) == 0.001)  // clamped to the minimum
        #expect(interval(100 * Self.mib, hard: 1 << 30, trigger: 150 * Self.mib) < 0.011)  // the trigger matters, not the limit
        let big: UInt64 = 8 << 30
        #expect(interval(big * 3 / 10, hard: big) == 1)  // 8 GiB at 30 %: capped at the maximum
    }

    @Test("a fast observed growth shortens the interval")
    func growthShortensInterval() {
        var policy = policy()
        policy.settings = MemoryPolicy.Settings(fillRate: 100 * 1_000_000)
        // Far from the trigger at 100 MB/s: the slowest sample (1 s).
        let first = policy.evaluate(MemoryReading(usage: 50 * Self.mib, inactiveFile: 0), now: t0)
        guard case .sampleAgain(let calm) = first else {
            Issue.record("fired at 50 MiB: \(first)")
            return
        }
        #expect(calm == .seconds(1))
        // 10 MiB in 10 ms, 1 GiB/s: the next sample comes before twice that rate could reach the trigger
        // (183 MiB away: 91 ms), and the hard limit (196 MiB, 196 ms) is far beyond the stop lead.
        let second = policy.evaluate(MemoryReading(usage: 60 * Self.mib, inactiveFile: 0), now: t0 + .milliseconds(10))
        guard case .sampleAgain(let fast) = second else {
            Issue.record("fired at 60 MiB: \(second)")
            return
        }
        #expect(fast < calm / 10, "\(fast)")
        #expect(policy.growthRate > 1e9 && policy.growthRate < 1.1e9, "\(policy.growthRate)")
    }

    @Test("fires early when, at the observed rate, the hard limit comes before a shutdown could start")
    func predictiveFire() {
        var policy = MemoryPolicy(settings: .init(stopLatency: .milliseconds(10)), trigger: 243 * Self.mib, hardLimit: Self.hard)
        _ = policy.evaluate(MemoryReading(usage: 200 * Self.mib, inactiveFile: 0), now: t0)
        // 10 MiB in 5 ms (2 GiB/s) at 210 MiB: 46 MiB from the limit is 22 ms away: not yet.
        if case .fire = policy.evaluate(MemoryReading(usage: 210 * Self.mib, inactiveFile: 0), now: t0 + .milliseconds(5)) {
            Issue.record("fired 22 ms from the limit")
        }
        // 22 MiB more in 10 ms at 232 MiB: 24 MiB left is 10.9 ms, within the 13 ms lead (10 ms stop
        // latency, 2 ms reaction, 1 ms minimum interval): stop now, below the trigger.
        let decision = policy.evaluate(MemoryReading(usage: 232 * Self.mib, inactiveFile: 0), now: t0 + .milliseconds(15))
        guard case .fire(.predicted(let seconds)) = decision else {
            Issue.record("did not fire: \(decision)")
            return
        }
        #expect(seconds > 0.0105 && seconds < 0.0115)
    }

    @Test("a slow burst near the trigger does not fire early")
    func slowGrowthDoesNotPredict() {
        var policy = policy()
        #expect(policy.settings.stopLatency == .milliseconds(20))
        _ = policy.evaluate(MemoryReading(usage: 240 * Self.mib, inactiveFile: 0), now: t0)
        // 1 MiB in 10 ms (100 MiB/s): 15 MiB from the limit is 150 ms away.
        #expect(policy.evaluate(MemoryReading(usage: 241 * Self.mib, inactiveFile: 0), now: t0 + .milliseconds(10))
                == .sampleAgain(after: .milliseconds(1)))
    }

    @Test("the growth rate is sustained growth over the window, not a burst between two samples")
    func growthIsSustained() {
        var policy = policy()
        // A 200 MB/s allocator touching 1 MiB chunks every 5 ms, sampled every millisecond.
        var now = t0
        var level: UInt64 = 200 * Self.mib
        for step in 0..<40 {
            if step % 5 == 0 { level += Self.mib }
            _ = policy.evaluate(MemoryReading(usage: level, inactiveFile: 0), now: now)
            now = now + .milliseconds(1)
        }
        #expect(policy.growthRate > 150e6 && policy.growthRate < 300e6, "\(policy.growthRate)")
        // Growth stops: the rate falls to zero within the window.
        for _ in 0..<12 {
            _ = policy.evaluate(MemoryReading(usage: level, inactiveFile: 0), now: now)
            now = now + .milliseconds(1)
        }
        #expect(policy.growthRate == 0)
        policy.reset()
        #expect(policy.growthRate == 0)
    }

    @Test("growth windows keep their order across the ring's wrap")
    func windowWraps() {
        var window = GrowthWindow()
        for step in 0..<100 { window.add(level: UInt64(step) * 1_000_000, at: MonotonicInstant(nanoseconds: Int64(step) * 1_000_000)) }
        #expect(abs(window.rate(over: .milliseconds(10)) - 1e9) < 1)  // 1 MB per ms
        #expect(abs(window.rate(over: .seconds(10)) - 1e9) < 1)       // the oldest kept sample
        var single = GrowthWindow()
        single.add(level: 5, at: MonotonicInstant(nanoseconds: 0))
        #expect(single.rate(over: .milliseconds(10)) == 0)
    }

    @Test("without a hard limit, an explicit trigger is the ceiling")
    func noHardLimit() {
        var policy = MemoryPolicy(settings: .init(), trigger: 100 * Self.mib, hardLimit: nil)
        #expect(policy.evaluate(MemoryReading(usage: 100 * Self.mib, inactiveFile: 0), now: t0) == .fire(.reachedTrigger))
    }
}

extension MemoryPolicyTests {
    /// The cap the guard gives a v1 cgroup with this test's trigger (243 MiB) and hard limit (256 MiB):
    /// dirty pages count above 85 % of the limit, 217.6 MiB.
    static let v1Cap = MemoryStat.v1CountedWritesCap(trigger: 243 * mib, hardLimit: hard)

    static func stat(cache: UInt64, pending: UInt64 = 0, v2: Bool = false) -> MemoryStat {
        MemoryStat(inactiveFile: cache / 2, activeFile: cache - cache / 2, pendingWrites: pending,
                   countedWritesCap: v2 ? .max : v1Cap)
    }

    @Test("v2: dirty and writeback pages count towards the trigger, clean cache does not")
    func pendingWritesCountOnV2() {
        var policy = policy()
        // 230 MiB anonymous, 20 MiB of cache, 15 of them being written: 245 MiB the kernel cannot take back in time.
        let v2 = MemoryReading(usage: 250 * Self.mib, stat: Self.stat(cache: 20 * Self.mib, pending: 15 * Self.mib, v2: true))
        #expect(v2.unreclaimable == 245 * Self.mib && v2.anonymousAndKernel == 230 * Self.mib)
        #expect(policy.evaluate(v2, now: t0) == .fire(.reachedTrigger))
        // The same cache clean: 230 MiB, no stop.
        var clean = self.policy()
        if case .fire = clean.evaluate(MemoryReading(usage: 250 * Self.mib, stat: Self.stat(cache: 20 * Self.mib, v2: true)), now: t0) {
            Issue.record("fired on clean cache")
        }
    }

    /// v1 has no per-cgroup dirty limit: a writer keeps almost all the cache dirty, and the kernel killed
    /// a still process from 86 % of the limit next to two writers (BENCHMARKS.md, section 7).
    @Test("v1: dirty pages count only above 85 % of the hard limit: a dump next to 200 MiB never stops, next to 230 MiB it does")
    func pendingWritesOnV1() {
        #expect(Self.v1Cap == 243 * Self.mib - UInt64(Double(Self.hard) * 0.85))
        // 200 MiB of anonymous memory, the other 56 MiB all dirty (a dump): 200 MiB + the cap (25.4 MiB), below the trigger.
        var dump = policy()
        let nextToDump = MemoryReading(usage: 256 * Self.mib, stat: Self.stat(cache: 56 * Self.mib, pending: 56 * Self.mib))
        #expect(nextToDump.unreclaimable == 200 * Self.mib + Self.v1Cap && nextToDump.anonymousAndKernel == 200 * Self.mib)
        if case .fire = dump.evaluate(nextToDump, now: t0) { Issue.record("a dump next to 200 MiB stopped the database") }
        // 220 MiB next to a cache all dirty: from 85 % of the limit, the stop.
        var near = policy()
        let nearLimit = MemoryReading(usage: 256 * Self.mib, stat: Self.stat(cache: 36 * Self.mib, pending: 36 * Self.mib))
        #expect(nearLimit.unreclaimable == 220 * Self.mib + Self.v1Cap)
        #expect(near.evaluate(nearLimit, now: t0) == .fire(.reachedTrigger))
        // The same with the cache clean: no stop (clean cache never counts).
        var clean = policy()
        if case .fire = clean.evaluate(MemoryReading(usage: 256 * Self.mib, stat: Self.stat(cache: 36 * Self.mib)), now: t0) {
            Issue.record("fired on clean cache")
        }
        // A few dirty pages count whole: 240 MiB + 4 MiB being written reach the trigger.
        var few = policy()
        #expect(few.evaluate(MemoryReading(usage: 256 * Self.mib, stat: Self.stat(cache: 16 * Self.mib, pending: 4 * Self.mib)),
                             now: t0) == .fire(.reachedTrigger))
        // A trigger already below 85 % of the limit leaves nothing to count.
        #expect(MemoryStat.v1CountedWritesCap(trigger: 200 * Self.mib, hardLimit: Self.hard) == 0)
        #expect(MemoryStat.v1CountedWritesCap(trigger: 243 * Self.mib, hardLimit: nil) == 0)
    }

    @Test("page cache filling at disk speed (2.8 GB/s, a dd) is no growth: no predicted stop, on v1 or v2")
    func cacheFillIsNoBurst() {
        for v2 in [false, true] {
            var policy = policy()
            var now = t0
            // 200 MiB of anonymous memory; the cache grows by 2.8 MB per ms until the limit, dirty up to
            // the kernel's dirty limit on v2 (a fifth of what is left: 11 MiB), all of it on v1.
            for step in 0...20 {
                let cache = UInt64(step) * 2_800_000
                let usage = min(200 * Self.mib + cache, Self.hard)
                let pending = v2 ? min(cache, 11 * Self.mib) : usage - 200 * Self.mib
                let reading = MemoryReading(usage: usage, stat: Self.stat(cache: usage - 200 * Self.mib, pending: pending, v2: v2))
                if case .fire(let reason) = policy.evaluate(reading, now: now) {
                    Issue.record("v2=\(v2): fired (\(reason)) at step \(step), unreclaimable \(reading.unreclaimable)")
                }
                now = now + .milliseconds(1)
            }
            #expect(policy.growthRate == 0, "v2=\(v2)")
        }
    }

    @Test("usage-only readings and exact ones are separate series: a cache that grew below the threshold is no burst")
    func seriesDoNotMix() {
        var policy = policy()
        var now = t0
        // Below the exact threshold, usage grows at 2.8 GB/s (a writer): usage-only readings.
        for step in 0..<10 {
            let usage = 60 * Self.mib + UInt64(step) * 2_800_000
            #expect(!policy.needsExactReading(usage: usage))
            _ = policy.evaluate(MemoryReading(usage: usage), now: now)
            now = now + .milliseconds(1)
        }
        #expect(policy.growthRate > 2e9, "the usage series paces the sampling")
        // Over it, the exact figure: 60 MiB of anonymous memory and the rest cache. No rate carries over.
        let exact = MemoryReading(usage: 200 * Self.mib, stat: Self.stat(cache: 140 * Self.mib))
        _ = policy.evaluate(exact, now: now)
        #expect(policy.growthRate == 0)
    }

    @Test("the exact threshold: 44 % of the trigger in a 256 MiB container, 90 % in 8 GiB")
    func exactThreshold() {
        let small = MemoryPolicy(settings: .init(), trigger: 255_652_815, hardLimit: Self.hard)
        // 4 GiB/s over the 33 ms of a rate window plus the stop lead: 141.7 MB below the trigger.
        let threshold = Double(small.exactThreshold)
        let expected: Double = 255_652_815 - 4 * 1_073_741_824 * 0.033
        #expect(abs(threshold - expected) < 2)
        let fraction = threshold / 255_652_815
        #expect(fraction > 0.44 && fraction < 0.45)
        let big = MemoryPolicy(settings: .init(), trigger: 8 << 30, hardLimit: 9 << 30)
        #expect(big.exactThreshold == UInt64(Double(8 << 30) * 0.9))
        let tiny = MemoryPolicy(settings: .init(), trigger: 100 * Self.mib, hardLimit: 105 * Self.mib)
        #expect(tiny.exactThreshold == 0, "below 142 MB every sample is exact")
    }

    /// The fastest burst measured here (two threads, 2.6 GB/s) from 30 % of the trigger, sampled when
    /// the policy says: the first sample over the exact threshold starts the exact series, and by the
    /// time the hard limit is within the lead (23 ms) the rate is known, so the first sample inside the
    /// lead predicts the stop (deterministic here: 18.4 ms ahead; one interval short of the lead at most).
    @Test("a burst from 30 % at 2.6 GB/s is predicted at the first sample within the lead")
    func burstFromThirtyPercent() throws {
        var policy = MemoryPolicy(settings: .init(), trigger: 255_652_815, hardLimit: Self.hard)
        let rate = 2.6e9
        var now = t0
        var level = 0.3 * 255_652_815
        var samples = 0
        while samples < 10_000 {
            samples += 1
            let usage = UInt64(level)
            let reading = policy.needsExactReading(usage: usage) ? MemoryReading(usage: usage, inactiveFile: 0) : MemoryReading(usage: usage)
            switch policy.evaluate(reading, now: now) {
            case .fire(let reason):
                guard case .predicted(let seconds) = reason else {
                    Issue.record("reached the trigger without a prediction at \(level)")
                    return
                }
                #expect(seconds >= 0.015 && seconds <= 0.023, "predicted \(seconds * 1000) ms before the limit")
                #expect(level < 255_652_815)
                return
            case .sampleAgain(let after):
                now = now + after
                level += rate * after.seconds
                #expect(level < Double(Self.hard), "the burst reached the hard limit unseen")
                if level >= Double(Self.hard) { return }
            }
        }
        Issue.record("never fired")
    }
}
