import LifeguardSystem

/// The lowest level seen in the last ten seconds, kept as one low per second in a fixed ring (the
/// loop samples up to a thousand times a second near the trigger: no per-sample history, no
/// allocation). The shed acts only on memory that has just appeared: a level that rose by at least
/// the shed minimum within this window. A server whose steady state sits above the shed level is
/// never shed for it.
struct TrailingLow: Sendable {
    static let seconds = 10
    private var lows: InlineArray<10, UInt64> = .init(repeating: 0)
    /// The whole second each slot holds; -1: empty.
    private var stamps: InlineArray<10, Int64> = .init(repeating: -1)

    mutating func add(_ level: UInt64, at time: MonotonicInstant) {
        let second = time.nanoseconds / 1_000_000_000
        let slot = Int(second % Int64(TrailingLow.seconds))
        if stamps[slot] == second {
            lows[slot] = min(lows[slot], level)
        } else {
            stamps[slot] = second
            lows[slot] = level
        }
    }

    /// The lowest level of the last ten seconds (this one included); nil before any sample.
    func low(at time: MonotonicInstant) -> UInt64? {
        let second = time.nanoseconds / 1_000_000_000
        var result: UInt64?
        for slot in 0..<TrailingLow.seconds where stamps[slot] >= 0 && stamps[slot] > second - Int64(TrailingLow.seconds)
            && stamps[slot] <= second {
            result = min(result ?? .max, lows[slot])
        }
        return result
    }

    mutating func reset() {
        stamps = .init(repeating: -1)
    }
}
