@testable import LifeguardCore
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
        // Usage alone over the trigger never fires: the exact working set must be read first.
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
        let settings = MemoryPolicy.Settings(fillRate: 100 * 1_000_000)
        policy.settings = settings
        guard case .sampleAgain(let calm) = policy.evaluate(MemoryReading(usage: 100 * Self.mib, inactiveFile: 0), now: t0) else { return }
        // 50 MiB in 10 ms: 5 GiB/s over the window.
        guard case .sampleAgain(let fast) = policy.evaluate(MemoryReading(usage: 150 * Self.mib, inactiveFile: 0),
                                                             now: t0 + .milliseconds(10)) else { return }
        #expect(fast < calm / 10)
        #expect(policy.growthRate > 4e9)
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
