import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Something the memory guard has to say; the loop logs it (never on the emergency path).
public enum MemoryGuardEvent: Equatable, Sendable {
    /// The trigger was (re)computed: the guard is on. `dirtyFloor`, on v1: the unreclaimable memory
    /// (anonymous and kernel) from which a cache full of dirty pages makes the stop.
    case armed(trigger: UInt64, limits: MemoryLimits, dirtyFloor: UInt64?)
    /// No trigger can be computed: the guard is off (no hard limit and no explicit trigger, or
    /// LIFEGUARD_MEMORY_LIMIT=off). Readings and the kernel's OOM-kill counter are still watched.
    case disarmed(limits: MemoryLimits, setting: TriggerSetting)
    /// The kernel woke the loop (v1 eventfd threshold or OOM notification, v2 memory.events).
    case kernelNotification
    /// The explicit trigger is not below the hard limit: the kernel would act first.
    case triggerNotBelowLimit(trigger: UInt64, hardLimit: UInt64)
    /// The kernel's OOM-kill counter went up: something in the container was SIGKILLed.
    case kernelOOMKill(count: UInt64, previous: UInt64, reading: MemoryReading?)
    /// The cgroup files could not be read (they vanished or hold garbage); sampling goes on.
    case readingFailed
    /// Readings work again after a failure.
    case readingRecovered
    /// This kernel's memory.stat lacks fields the figure uses: what they stand for is counted as
    /// unreclaimable (the guard may stop earlier than needed, never later).
    case statFieldsMissing(MemoryStat.MissingFields)
}

/// The memory guard's shell: the cgroup's files, the policy, and the kernel's notifications. The loop
/// asks it when to sample next and calls `sample` then; `sample` allocates nothing.
public final class MemoryGuard {
    public let cgroup: CgroupMemory
    public let triggerSetting: TriggerSetting
    public let headroom: Headroom
    public let policySettings: MemoryPolicy.Settings
    public private(set) var limits = MemoryLimits()
    /// nil while the guard is off.
    public private(set) var policy: MemoryPolicy?
    public private(set) var lastReading: MemoryReading?
    public private(set) var kernelOOMKills: UInt64?
    /// When the loop must call `sample` next; nil when not sampling (no child running, or guard off).
    public private(set) var nextSample: MonotonicInstant?
    /// v1 only, where `cgroup.event_control` is writable.
    public private(set) var usageThreshold: CgroupEventNotification?
    public private(set) var oomNotification: CgroupEventNotification?
    /// Why kernel notifications could not be armed (read-only cgroupfs in a container), for the log.
    public private(set) var notificationError: Errno?
    /// Changes whenever `notificationDescriptors` does: the loop rebuilds its poll set only then (and
    /// builds no array to find out, which would be the idle loop's only allocation).
    public private(set) var notificationGeneration = 0
    private var armedThreshold: UInt64?
    /// A child runs (the state machine said `startSampling`): sample whenever the guard is on, so
    /// that a limit set later (`docker update --memory`) is guarded from the refresh that finds it.
    private var samplingWanted = false
    private var readingFailed = false
    private var refreshed = false
    /// How late the last sample ran compared with its plan.
    private var lastSampleDelay: Duration = .zero

    public init(cgroup: CgroupMemory, trigger: TriggerSetting, headroom: Headroom, policy: MemoryPolicy.Settings) {
        self.cgroup = cgroup
        self.triggerSetting = trigger
        self.headroom = headroom
        self.policySettings = policy
        if cgroup.location.version == .v1 {
            do {
                oomNotification = try CgroupEventNotification(directory: cgroup.location.directory,
                                                              watching: "memory.oom_control", argument: nil)
            } catch {
                notificationError = error
            }
        }
    }

    /// The trigger in bytes, when the guard is on.
    public var trigger: UInt64? { policy?.trigger }

    /// Where the shed begins and the least it acts on (`Shedder`), relative to the trigger; nil unless
    /// the loop sheds.
    public var shedSettings: (level: ShedSetting, minimum: ShedSetting)? {
        didSet { resolveShed() }
    }
    /// The shed's level and minimum in bytes. Kept as stored values: `sample` computes nothing it need not.
    public private(set) var shedLevel: UInt64?
    public private(set) var shedMinimum: UInt64?
    /// Samples at or above the shed level less its minimum read memory.stat: only an exact reading may
    /// lead to a kill, and the shed looks only at a level that rose by the minimum (`TrailingLow`),
    /// which a usage-only reading (page cache included) would hide.
    private var shedExactFloor = UInt64.max

    private func resolveShed() {
        shedLevel = trigger.flatMap { trigger in shedSettings.flatMap { $0.level.resolve(trigger: trigger) } }
        shedMinimum = trigger.flatMap { trigger in shedSettings.flatMap { $0.minimum.resolve(trigger: trigger) } }
        if let shedLevel, let shedMinimum {
            shedExactFloor = shedLevel > shedMinimum ? shedLevel - shedMinimum : 0
        } else {
            shedExactFloor = .max
        }
    }

    /// Descriptors the loop polls: readable (eventfd) or POLLPRI (v2 memory.events) means "look now".
    public var notificationDescriptors: [(FileDescriptor, Int16)] {
        var result: [(FileDescriptor, Int16)] = []
        if let usageThreshold { result.append((usageThreshold.descriptor, Int16(POLLIN))) }
        if let oomNotification { result.append((oomNotification.descriptor, Int16(POLLIN))) }
        if cgroup.location.version == .v2, let events = cgroup.eventsFile { result.append((events, Int16(POLLPRI))) }
        return result
    }

    /// Re-reads the limits and the OOM-kill counter; recomputes the trigger when a limit changed
    /// (`docker update --memory`). Call at start and every status interval.
    public func refresh(now: MonotonicInstant) -> [MemoryGuardEvent] {
        var events: [MemoryGuardEvent] = []
        let newLimits = cgroup.readLimits()
        let resolved = triggerSetting.resolve(hardLimit: newLimits.hard, headroom: headroom)
        if !refreshed || newLimits != limits || resolved != policy?.trigger || (resolved != nil) != (policy != nil) {
            refreshed = true
            limits = newLimits
            if let resolved {
                if var existing = policy {
                    existing.trigger = resolved
                    existing.hardLimit = newLimits.hard
                    policy = existing
                } else {
                    policy = MemoryPolicy(settings: policySettings, trigger: resolved, hardLimit: newLimits.hard)
                }
                resolveShed()
                var dirtyFloor: UInt64?
                if cgroup.location.version == .v1 {
                    cgroup.countedWritesCap = MemoryStat.v1CountedWritesCap(trigger: resolved, hardLimit: newLimits.hard)
                    dirtyFloor = resolved - cgroup.countedWritesCap
                }
                events.append(.armed(trigger: resolved, limits: newLimits, dirtyFloor: dirtyFloor))
                if let hard = newLimits.hard, resolved >= hard {
                    events.append(.triggerNotBelowLimit(trigger: resolved, hardLimit: hard))
                }
                if let exactThreshold = policy?.exactThreshold { armUsageThreshold(at: exactThreshold) }
                if samplingWanted && nextSample == nil { nextSample = now }
            } else {
                policy = nil
                resolveShed()
                nextSample = nil
                if cgroup.location.version == .v1 { cgroup.countedWritesCap = 0 }
                if usageThreshold != nil { notificationGeneration += 1 }
                usageThreshold = nil
                armedThreshold = nil
                events.append(.disarmed(limits: newLimits, setting: triggerSetting))
            }
        }
        events += checkOOMKills()
        return events
    }

    /// The kernel's counter, compared with the last look.
    public func checkOOMKills() -> [MemoryGuardEvent] {
        guard let count = cgroup.readOOMKills() else { return [] }
        defer { kernelOOMKills = count }
        if let previous = kernelOOMKills, count > previous {
            return [.kernelOOMKill(count: count, previous: previous, reading: lastReading)]
        }
        return []
    }

    /// Start (or restart) sampling now: a child is running.
    public func startSampling(now: MonotonicInstant) {
        samplingWanted = true
        guard policy != nil else { return }
        policy?.reset()
        nextSample = now
    }

    public func stopSampling() {
        samplingWanted = false
        nextSample = nil
    }

    /// A kernel notification arrived: sample at once. The growth history is dropped: the last sample
    /// may be a second old (below an armed threshold the guard samples slowly), and a rate averaged
    /// over it would hide the burst that crossed the threshold.
    public func sampleSoon(now: MonotonicInstant) {
        guard policy != nil, nextSample != nil else { return }
        policy?.reset()
        nextSample = now
    }

    /// One sample: read, decide, schedule the next. Allocates nothing; returns `.fire` when the
    /// database must be stopped now. nil when off, or when the files could not be read (the next
    /// attempt is scheduled 100 minimum intervals later, and `readingFailed` reports it once).
    /// The policy is used in place (`policy?.`), never copied out: a copy of its growth window goes
    /// through generic value witnesses, code nothing else in the steady state runs (`Footprint`, rule 5).
    public func sample(now: MonotonicInstant) -> MemoryPolicy.Decision? {
        guard policy != nil else { return nil }
        if let planned = nextSample { lastSampleDelay = now - planned }
        var reading = cgroup.read(exact: false)
        if let usage = reading?.usage, policy?.needsExactReading(usage: usage) == true || usage >= shedExactFloor {
            // Not `reading.flatMap(cgroup.completed)`: a method reference is a closure, an allocation.
            if let usageOnly = reading { reading = cgroup.completed(usageOnly) }
        }
        guard let reading else {
            readingFailed = true
            nextSample = now + policySettings.minimumInterval * 100
            return nil
        }
        readingFailed = false
        lastReading = reading
        if let missing = reading.stat?.missing, !missing.isSubset(of: missingStatFields) {
            missingStatFields.formUnion(missing)
            missingStatFieldsNews = true
        }
        guard let decision = policy?.evaluate(reading, now: now) else { return nil }
        switch decision {
        case .fire: nextSample = nil
        case .sampleAgain(let after):
            // Below an armed kernel threshold the kernel wakes the loop when usage crosses it, so
            // the slowest sample is enough (the growth rate and the limits stay current).
            let belowThreshold = usageThreshold != nil && armedThreshold.map { reading.usage < $0 } == true
            nextSample = now + (belowThreshold ? policySettings.maximumInterval : after)
        }
        return decision
    }

    /// Whether the last sample failed (the loop logs the change once).
    public var isFailing: Bool { readingFailed }

    /// memory.stat fields this kernel does not report, seen so far (counted conservatively).
    public private(set) var missingStatFields: MemoryStat.MissingFields = []
    private var missingStatFieldsNews = false

    /// The event for fields found missing since the last call, once each (the loop logs it after acting).
    public func takeMissingFieldsEvent() -> MemoryGuardEvent? {
        guard missingStatFieldsNews else { return nil }
        missingStatFieldsNews = false
        return .statFieldsMissing(missingStatFields)
    }

    /// The figures behind a firing decision, for the log and the status.
    public func report(for reason: MemoryPolicy.FireReason) -> MemoryTriggerReport? {
        guard let trigger = policy?.trigger, let growthRate = policy?.growthRate, let lastReading else { return nil }
        return MemoryTriggerReport(reading: lastReading, trigger: trigger, hardLimit: policy?.hardLimit,
                                   reason: reason, growthRate: growthRate, sampleDelay: lastSampleDelay)
    }

    /// v1, where writable: the kernel wakes Lifeguard when usage crosses into the zone where the exact
    /// reading (memory.stat) is taken, however long the current poll interval.
    private func armUsageThreshold(at threshold: UInt64) {
        guard cgroup.location.version == .v1, armedThreshold != threshold, notificationError == nil else { return }
        do {
            usageThreshold = try CgroupEventNotification(directory: cgroup.location.directory,
                                                         watching: "memory.usage_in_bytes", argument: String(threshold))
            armedThreshold = threshold
            notificationGeneration += 1
        } catch {
            usageThreshold = nil
            notificationError = error
            notificationGeneration += 1
        }
    }
}
