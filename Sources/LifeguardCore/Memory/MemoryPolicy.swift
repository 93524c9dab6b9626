import Glibc

/// Decides, from each reading, whether to stop the database now or when to look again.
///
/// Inside an unprivileged container cgroupfs is read-only, so no kernel threshold can be armed and
/// the guard must poll. A fixed interval cannot be both cheap and fast (a 1 s poll loses the race at
/// 50 MB/s; a 1 ms poll costs a thousand wake-ups a second forever). Following earlyoom's fill-rate
/// model, the next sample comes just before memory growing at the fastest plausible rate could reach
/// the hard limit: the interval is the gap to the limit divided by that rate. Far from the limit that
/// is up to a second; next to it, a millisecond.
public struct MemoryPolicy: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The growth rate (bytes per second) the guard must win against even when it has not seen it
        /// yet: a burst can start right after a sample.
        public var fillRate: Double
        public var minimumInterval: Duration
        public var maximumInterval: Duration
        /// From kill(2) to the child no longer allocating; budgeted on top of each interval.
        public var reactionTime: Duration
        /// Above this fraction of the trigger, samples read the exact working set (memory.stat);
        /// below it, usage alone proves the working set is below the trigger.
        public var exactFraction: Double

        public init(fillRate: Double = 4 * 1024 * 1024 * 1024, minimumInterval: Duration = .milliseconds(1),
                    maximumInterval: Duration = .seconds(1), reactionTime: Duration = .milliseconds(2),
                    exactFraction: Double = 0.9) {
            self.fillRate = fillRate
            self.minimumInterval = minimumInterval
            self.maximumInterval = maximumInterval
            self.reactionTime = reactionTime
            self.exactFraction = exactFraction
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
    /// Growth of the working set in bytes per second: rises at once, decays over about a second.
    public private(set) var growthRate: Double = 0
    private var last: (level: UInt64, at: MonotonicInstant)?

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
        let level = reading.workingSet
        updateRate(level: level, now: now)

        // Only the real working set can stop the database: page cache alone never does.
        if reading.isExact && level >= trigger { return .fire(.reachedTrigger) }

        let ceiling = hardLimit ?? trigger
        let gap = ceiling > level ? Double(ceiling - level) : 0
        let lead = settings.reactionTime.seconds + settings.minimumInterval.seconds
        if reading.isExact, growthRate > 0, gap / growthRate <= lead {
            return .fire(.predicted(secondsToLimit: gap / growthRate))
        }
        let rate = max(settings.fillRate, growthRate * 2)
        let seconds = gap / rate - settings.reactionTime.seconds
        return .sampleAgain(after: clamp(seconds))
    }

    /// Forget the history (after a restart: a new process, a new curve).
    public mutating func reset() {
        last = nil
        growthRate = 0
    }

    private mutating func updateRate(level: UInt64, now: MonotonicInstant) {
        defer { last = (level, now) }
        guard let last else { return }
        let elapsed = (now - last.at).seconds
        guard elapsed > 0 else { return }
        let observed = level > last.level ? Double(level - last.level) / elapsed : 0
        growthRate = max(observed, growthRate * exp(-elapsed))
    }

    private func clamp(_ seconds: Double) -> Duration {
        let minimum = settings.minimumInterval.seconds
        let maximum = settings.maximumInterval.seconds
        let bounded = seconds.isFinite ? min(max(seconds, minimum), maximum) : maximum
        return .nanoseconds(Int64(bounded * 1e9))
    }
}
