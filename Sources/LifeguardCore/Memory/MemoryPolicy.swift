/// Decides, from each reading, whether to stop the database now or when to look again.
///
/// Inside an unprivileged container cgroupfs is read-only, so no kernel threshold can be armed and
/// the guard must poll. A fixed interval cannot be both cheap and fast (a 1 s poll loses the race at
/// 50 MB/s; a 1 ms poll costs a thousand wake-ups a second forever). Following earlyoom's fill-rate
/// model, the next sample comes just before memory growing at the fastest plausible rate could reach
/// the trigger: the interval is the gap to the trigger divided by that rate. Far from it that is up to
/// a second; next to it, a millisecond.
///
/// A database does not stop allocating the instant it gets SIGTERM: its running queries go on until
/// they notice the shutdown, and near the hard limit every thread, the shutdown's included, is slowed
/// by reclaim. Measured with MariaDB (8 parallel sorts, 2 GB/s): it kept growing by more than the
/// article's 12.8 MB of headroom in 2 runs out of 6 and the kernel OOM-killed it mid-shutdown. So the
/// faster memory grows, the earlier the guard fires: when, at the observed rate, the hard limit is
/// less than `stopLatency` away.
public struct MemoryPolicy: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The growth rate (bytes per second) the guard must win against even when it has not seen it
        /// yet: a burst can start right after a sample.
        public var fillRate: Double
        public var minimumInterval: Duration
        public var maximumInterval: Duration
        /// From a planned sample to kill(2): scheduling delay and the read; taken off each interval.
        public var reactionTime: Duration
        /// From kill(2) until the child stops growing: the guard fires when, at the observed growth
        /// rate, the hard limit is closer than this.
        public var stopLatency: Duration
        /// Above this fraction of the trigger, samples read the exact working set (memory.stat);
        /// below it, usage alone proves the working set is below the trigger.
        public var exactFraction: Double
        /// The growth rate is measured over at least this long.
        public var rateWindow: Duration

        public init(fillRate: Double = 4 * 1024 * 1024 * 1024, minimumInterval: Duration = .milliseconds(1),
                    maximumInterval: Duration = .seconds(1), reactionTime: Duration = .milliseconds(2),
                    stopLatency: Duration = .milliseconds(20), exactFraction: Double = 0.9,
                    rateWindow: Duration = .milliseconds(10)) {
            self.fillRate = fillRate
            self.minimumInterval = minimumInterval
            self.maximumInterval = maximumInterval
            self.reactionTime = reactionTime
            self.stopLatency = stopLatency
            self.exactFraction = exactFraction
            self.rateWindow = rateWindow
        }
    }

    public enum FireReason: Equatable, Sendable {
        /// The working set reached the trigger.
        case reachedTrigger
        /// Below the trigger, but at the observed rate the hard limit comes before a shutdown could start.
        case predicted(secondsToLimit: Double)
    }

    public enum Decision: Equatable, Sendable {
        case fire(FireReason)
        case sampleAgain(after: Duration)
    }

    public var settings: Settings
    /// Working set at which the database is stopped (the article's "offer").
    public var trigger: UInt64
    /// The kernel's hard limit, the point that must never be reached; nil when there is none.
    public var hardLimit: UInt64?
    /// Sustained growth of the working set, bytes per second, over at least `rateWindow`.
    public private(set) var growthRate: Double = 0
    private var history = GrowthWindow()

    public init(settings: Settings = Settings(), trigger: UInt64, hardLimit: UInt64?) {
        self.settings = settings
        self.trigger = trigger
        self.hardLimit = hardLimit
    }

    /// Whether the next sample must read the exact working set (memory.stat) rather than usage alone.
    public func needsExactReading(usage: UInt64) -> Bool {
        Double(usage) >= Double(trigger) * settings.exactFraction
    }

    public mutating func evaluate(_ reading: MemoryReading, now: MonotonicInstant) -> Decision {
        history.add(level: reading.workingSet, at: now)
        growthRate = history.rate(over: settings.rateWindow)
        return decide(reading, growthRate: growthRate)
    }

    /// The decision for `reading` at `growthRate`, with no effect: `evaluate` once the growth window
    /// has the reading (and, run on its own, how the loop brings this code in before it is needed).
    public func decide(_ reading: MemoryReading, growthRate: Double) -> Decision {
        let level = reading.workingSet
        // Only the real working set can stop the database: page cache alone never does.
        if reading.isExact && level >= trigger { return .fire(.reachedTrigger) }

        // Fast growth: the hard limit would come before the database stops growing.
        let ceiling = hardLimit ?? trigger
        let headroom = ceiling > level ? Double(ceiling - level) : 0
        let lead = settings.stopLatency.seconds + settings.reactionTime.seconds + settings.minimumInterval.seconds
        if reading.isExact, growthRate > 0, headroom / growthRate <= lead {
            return .fire(.predicted(secondsToLimit: headroom / growthRate))
        }
        // Look again before growth at the fill rate (or twice the observed rate) could pass the trigger.
        let gap = trigger > level ? Double(trigger - level) : 0
        let rate = max(settings.fillRate, growthRate * 2)
        return .sampleAgain(after: clamp(gap / rate - settings.reactionTime.seconds))
    }

    /// Forget the history (after a restart: a new process, a new curve).
    public mutating func reset() {
        history.reset()
        growthRate = 0
    }

    private func clamp(_ seconds: Double) -> Duration {
        let minimum = settings.minimumInterval.seconds
        let maximum = settings.maximumInterval.seconds
        let bounded = seconds.isFinite ? min(max(seconds, minimum), maximum) : maximum
        return .exactly(nanoseconds: Int64(bounded * 1e9))
    }
}
