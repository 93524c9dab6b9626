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
        let far = interval(77 * Self.mib)  // 30 % of 256 MiB
        #expect(far > 0.035 && far < 0.05)  // 179 MiB at 4 GiB/s, less the 2 ms reaction budget
        #expect(abs(interval(240 * Self.mib) - 0.001906) < 0.000001)  // 16 MiB from the limit: 3.9 ms, less 2 ms
        #expect(interval(242 * Self.mib) < 0.0015)
        #expect(interval(255 * Self.mib, trigger: 255 * Self.mib + 1) == 0.001)  // clamped to the minimum
        let big: UInt64 = 8 << 30
        #expect(interval(big * 3 / 10, hard: big) == 1)  // 8 GiB at 30 %: capped at the maximum
    }

    @Test("a fast observed growth shortens the interval")
    func growthShortensInterval() {
        var policy = policy()
        let settings = MemoryPolicy.Settings(fillRate: 100 * 1_000_000)
        policy.settings = settings
        guard case .sampleAgain(let calm) = policy.evaluate(MemoryReading(usage: 100 * Self.mib, inactiveFile: 0), now: t0) else { return }
        // 50 MiB in 10 ms: 5 GiB/s.
        guard case .sampleAgain(let fast) = policy.evaluate(MemoryReading(usage: 150 * Self.mib, inactiveFile: 0),
                                                             now: t0 + .milliseconds(10)) else { return }
        #expect(fast < calm / 10)
        #expect(policy.growthRate > 4e9)
    }

    @Test("fires early when, at the observed rate, the hard limit comes before a shutdown could start")
    func predictiveFire() {
        var policy = policy()
        _ = policy.evaluate(MemoryReading(usage: 200 * Self.mib, inactiveFile: 0), now: t0)
        // 40 MiB in 2 ms (20 GiB/s): 16 MiB left to the hard limit is under a millisecond.
        let decision = policy.evaluate(MemoryReading(usage: 240 * Self.mib, inactiveFile: 0), now: t0 + .milliseconds(2))
        guard case .fire(.predicted(let seconds)) = decision else {
            Issue.record("did not fire: \(decision)")
            return
        }
        #expect(seconds < 0.003)
    }

    @Test("the growth estimate decays when growth stops")
    func growthDecays() {
        var policy = policy()
        _ = policy.evaluate(MemoryReading(usage: 100 * Self.mib, inactiveFile: 0), now: t0)
        _ = policy.evaluate(MemoryReading(usage: 110 * Self.mib, inactiveFile: 0), now: t0 + .milliseconds(10))
        let peak = policy.growthRate
        _ = policy.evaluate(MemoryReading(usage: 110 * Self.mib, inactiveFile: 0), now: t0 + .seconds(5))
        #expect(policy.growthRate < peak / 100)
        policy.reset()
        #expect(policy.growthRate == 0)
    }

    @Test("without a hard limit, an explicit trigger is the ceiling")
    func noHardLimit() {
        var policy = MemoryPolicy(settings: .init(), trigger: 100 * Self.mib, hardLimit: nil)
        #expect(policy.evaluate(MemoryReading(usage: 100 * Self.mib, inactiveFile: 0), now: t0) == .fire(.reachedTrigger))
    }
}
