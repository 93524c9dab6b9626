import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Decides, from each reading, whether to stop the database now or when to look again. It decides on
/// the memory the kernel cannot take back without killing (`MemoryReading.unreclaimable`): page cache
/// alone never stops the database, nor makes a predicted stop.
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
        /// Samples read memory.stat for the exact figure once usage is within this fraction of the
        /// trigger, or within what the fill rate covers in a rate window plus the stop lead, whichever
        /// is wider (`exactThreshold`); below, usage alone proves the unreclaimable memory is below.
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
        /// The unreclaimable memory reached the trigger.
        case reachedTrigger
        /// Below the trigger, but at the observed rate the hard limit comes before a shutdown could start.
        case predicted(secondsToLimit: Double)
    }

    public enum Decision: Equatable, Sendable {
        case fire(FireReason)
        case sampleAgain(after: Duration)
    }

    public var settings: Settings
    /// The unreclaimable memory at which the database is stopped (the article's "offer").
    public var trigger: UInt64
    /// The kernel's hard limit, the point that must never be reached; nil when there is none.
    public var hardLimit: UInt64?
    /// Sustained growth, bytes per second, over at least `rateWindow`: of the memory page cache cannot
    /// move (`MemoryReading.anonymousAndKernel`) while samples are exact, of usage while they are not.
    public private(set) var growthRate: Double = 0
    /// Exact readings only: anonymous and kernel memory. The predicted stop uses this rate alone.
    private var exactHistory = GrowthWindow()
    /// Usage-only readings: they pace the sampling far below the trigger, never a stop. Kept apart so
    /// that a series never mixes usage (page cache included) with a figure that leaves it out.
    private var usageHistory = GrowthWindow()

    public init(settings: Settings = Settings(), trigger: UInt64, hardLimit: UInt64?) {
        self.settings = settings
        self.trigger = trigger
        self.hardLimit = hardLimit
    }

    /// Usage from which samples read memory.stat. Far enough below the trigger that a burst at the
    /// fill rate has been measured on exact readings for a whole rate window before the hard limit is
    /// within the stop lead: the predicted stop must not wait for a growth rate to build up (about
    /// 44 % of the trigger in a 256 MiB container; 90 % in large ones). The v1 kernel threshold is
    /// armed here too.
    public var exactThreshold: UInt64 {
        let fillMargin = settings.fillRate * (lead + settings.rateWindow.seconds)
        let margin = max(Double(trigger) * (1 - settings.exactFraction), fillMargin)
        return Double(trigger) > margin ? UInt64(Double(trigger) - margin) : 0
    }

    /// Whether the next sample must read memory.stat rather than usage alone.
    public func needsExactReading(usage: UInt64) -> Bool { usage >= exactThreshold }

    /// How far ahead of the hard limit a growing database must be stopped: the stop latency, the
    /// reaction time and one sampling interval.
    var lead: Double { settings.stopLatency.seconds + settings.reactionTime.seconds + settings.minimumInterval.seconds }

    public mutating func evaluate(_ reading: MemoryReading, now: MonotonicInstant) -> Decision {
        // Each series starts afresh when the readings change kind: a rate across the change would
        // compare a figure with page cache in it to one without.
        if reading.isExact {
            usageHistory.reset()
            exactHistory.add(level: reading.anonymousAndKernel, at: now)
            growthRate = exactHistory.rate(over: settings.rateWindow)
        } else {
            exactHistory.reset()
            usageHistory.add(level: reading.usage, at: now)
            growthRate = usageHistory.rate(over: settings.rateWindow)
        }
        return decide(reading, growthRate: growthRate)
    }

    /// The decision for `reading` at `growthRate`, with no effect: `evaluate` once the growth window
    /// has the reading (and, run on its own, how the loop brings this code in before it is needed).
    public func decide(_ reading: MemoryReading, growthRate: Double) -> Decision {
        let level = reading.unreclaimable
        // Only an exact reading can stop the database: usage alone includes page cache.
        if reading.isExact && level >= trigger { return .fire(.reachedTrigger) }

        // Fast growth: the hard limit would come before the database stops growing.
        let ceiling = hardLimit ?? trigger
        let headroom = ceiling > level ? Double(ceiling - level) : 0
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
        exactHistory.reset()
        usageHistory.reset()
        growthRate = 0
    }

    private func clamp(_ seconds: Double) -> Duration {
        let minimum = settings.minimumInterval.seconds
        let maximum = settings.maximumInterval.seconds
        let bounded = seconds.isFinite ? min(max(seconds, minimum), maximum) : maximum
        return .exactly(nanoseconds: Int64(bounded * 1e9))
    }
}
