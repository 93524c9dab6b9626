import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Recent (time, working set) samples in a fixed ring, for the sustained growth rate: the change over
/// at least `window`, so a burst of page touches between two samples a millisecond apart (one chunk of
/// a 200 MB/s allocator) does not read as gigabytes per second. Inline storage: no allocation.
struct GrowthWindow: Sendable {
    static let capacity = 32
    private var times: InlineArray<32, Int64> = .init(repeating: 0)
    private var levels: InlineArray<32, UInt64> = .init(repeating: 0)
    private var newest = -1
    private var count = 0

    mutating func add(level: UInt64, at time: MonotonicInstant) {
        newest = (newest + 1) % GrowthWindow.capacity
        times[newest] = time.nanoseconds
        levels[newest] = level
        count = min(count + 1, GrowthWindow.capacity)
    }

    mutating func reset() {
        newest = -1
        count = 0
    }

    /// Bytes per second from the newest sample back to the latest sample at least `window` older, or
    /// to the oldest kept. 0 with fewer than two samples, or when the working set shrank.
    func rate(over window: Duration) -> Double {
        guard count >= 2 else { return 0 }
        let nowTime = times[newest]
        let nowLevel = levels[newest]
        var back = 1
        var index = (newest - 1 + GrowthWindow.capacity) % GrowthWindow.capacity
        while back < count - 1, nowTime - times[index] < window.nanoseconds {
            back += 1
            index = (index - 1 + GrowthWindow.capacity) % GrowthWindow.capacity
        }
        let elapsed = Double(nowTime - times[index]) / 1e9
        guard elapsed > 0, nowLevel > levels[index] else { return 0 }
        return Double(nowLevel - levels[index]) / elapsed
    }
}
