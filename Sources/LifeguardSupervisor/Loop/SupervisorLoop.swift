import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The shell around `Supervisor`: one thread, one `ppoll`. Each turn it gathers what happened (what
/// woke it, read once with one clock reading), steps the state machine with each event, and performs
/// the actions the machine returns (SupervisorLoop+Perform.swift). It decides nothing itself: when
/// to sample memory, watch readiness or check OOM kills are the machine's actions. No Dispatch and no
/// Swift concurrency: both start threads, and a PID 1 must own every signal in one place.
///
/// What wakes it: the sources of `WakeSources`, and a timeout, the earliest of the state machine's
/// deadline, the next memory sample, the readiness prober's next step and the next status write
/// (which also re-reads the limits).
public final class SupervisorLoop {
    var machine: Supervisor
    let spawner: ChildSpawner
    /// `resurrect -- COMMAND`, for LIFEGUARD_ON_CORRUPTION=resurrect.
    let recovery: ChildSpawner?
    let signals: SignalChannel
    let logger: Logger
    /// PID 1 of its namespace: leftovers are signalled with kill(-1).
    let isInit: Bool
    let memory: MemoryGuard?
    let health: Health
    /// Killing the runaway connection before the stop; nil without Lifeguard's own connection.
    let shedding: Shedding?
    private var pollSet = PollSet()
    /// The memory guard's descriptors as last put in the poll set (`MemoryGuard.notificationGeneration`).
    private var memoryGeneration = -1
    /// Something the status file shows changed: write it after this turn.
    var statusDirty = true
    /// When start-up is over and the pages it used are dropped (`Footprint.settle`); nil once done.
    var settleAt: MonotonicInstant?
    /// How much of Lifeguard's memory is locked (all, region by region under RLIMIT_MEMLOCK, or none).
    var memoryLock = MemoryLock.all
    /// The emergency path has run once (without effect) since the first child started.
    var emergencyPathWarm = false
    /// Whether the last wait failed (logged once, on the change).
    private var waitFailing = false

    public init(machine: Supervisor, spawner: ChildSpawner, recovery: ChildSpawner? = nil, signals: consuming SignalChannel, logger: Logger,
                isInit: Bool, memory: MemoryGuard?, health: Health = Health(), shedding: Shedding? = nil,
                now: MonotonicInstant = .now()) {
        self.machine = machine
        self.spawner = spawner
        self.recovery = recovery
        self.signals = signals
        self.logger = logger
        self.isInit = isInit
        self.memory = memory
        self.health = health
        self.shedding = health.link == nil ? nil : shedding
        settleAt = now + .seconds(5)
        pollSet.replace(.signals, with: [(self.signals.descriptor, Int16(POLLIN))])
        pollSet.replace(.notify, with: health.notify.map { [($0.descriptor, Int16(POLLIN))] } ?? [])
        pollSet.replace(.readiness, with: [(FileDescriptor(rawValue: -1), Int16(POLLIN))])
        pollSet.replace(.server, with: [(FileDescriptor(rawValue: -1), Int16(POLLIN))])
        updateMemoryDescriptors()
    }

    public var supervisor: Supervisor { machine }

    public func run() -> Never {
        // Locked from the first instruction of the loop, not only once start-up is over: a container
        // full of page cache evicts whatever is not locked, and a refault of Lifeguard's own code
        // waits for a disk read queued behind the writeback of that cache (see `Footprint`).
        memoryLock = Footprint.lock()
        logMemoryLock()
        let now = MonotonicInstant.now()
        if let memory { log(memory.refresh(now: now)) }
        updateMemoryDescriptors()
        start(now: now)
        while true { runOnce() }
    }

    /// Starts the command (the first action of the state machine).
    public func start(now: MonotonicInstant = .now()) {
        perform(machine.start(now: now), now: now)
    }

    /// One turn: wait, read the clock once, then hand each event to its handler, the memory sample
    /// first (it is the emergency path), and perform what the machine answers.
    public func runOnce() {
        let woken = waitForEvents(until: nextWake())
        let now = MonotonicInstant.now()
        if woken.contains(.memory) { memoryNotified(now: now) }
        var sampled = woken.contains(.memory)
        if let due = memory?.nextSample, now >= due {
            sampleMemory(now: now)
            sampled = true
        }
        if woken.contains(.signals) { signalsArrived(now: now) }
        if woken.contains(.notify) { notifyArrived(now: now) }
        readinessStep(now: now)
        if let link = health.link { serverLinkStep(link, woken: woken.contains(.server), now: now) }
        // The shed looks at each new sample, and at the end of its cool-downs and deadlines.
        if sampled || shedding?.shedder.nextWake.map({ now >= $0 }) == true { shedStep(now: now) }
        if let deadline = machine.nextDeadline, now >= deadline { perform(machine.deadlineReached(now: now), now: now) }
        if now >= health.reporter.nextWrite { housekeeping(now: now) }
        if statusDirty { writeStatus(now: now) }
        if let settleAt, now >= settleAt { settle() }
    }

    private func nextWake() -> MonotonicInstant {
        var wake = health.reporter.nextWrite
        if let deadline = machine.nextDeadline { wake = min(wake, deadline) }
        if let sample = memory?.nextSample { wake = min(wake, sample) }
        if let probe = health.prober?.nextWake { wake = min(wake, probe) }
        if let link = health.link {
            if let retry = link.nextWake { wake = min(wake, retry) }
            if let check = health.check.nextWake(canSend: link.canSend) { wake = min(wake, check) }
            if let replica = health.replica?.nextWake(canSend: link.canSend) { wake = min(wake, replica) }
        }
        if let shed = shedding?.shedder.nextWake { wake = min(wake, shed) }
        if let settleAt { wake = min(wake, settleAt) }
        return wake
    }

    private func waitForEvents(until deadline: MonotonicInstant) -> WakeSources {
        pollSet.point(.readiness, at: health.prober?.pollDescriptor)
        pollSet.point(.server, at: health.link?.pollDescriptor, events: health.link?.pollEvents)
        do {
            let woken = try pollSet.wait(until: deadline, now: .now())
            if waitFailing {
                waitFailing = false
                logger.info("ppoll works again")
            }
            return woken
        } catch {
            // Cannot happen with these arguments (EINVAL, EFAULT) short of ENOMEM in the kernel: the
            // turn goes on with its timers, and the next one tries again.
            if !waitFailing {
                waitFailing = true
                logger.error("ppoll failed; still supervising, retrying", [("error", .string(error.description))])
            }
            return []
        }
    }

    // MARK: - Events

    /// Kernel notifications (v1 eventfd thresholds, v2 memory.events): sample at once (allocation-free,
    /// like any sample), then consume the notifications and look at the OOM-kill counter.
    private func memoryNotified(now: MonotonicInstant) {
        guard let memory else { return }
        memory.sampleSoon(now: now)
        sampleMemory(now: now)
        memory.usageThreshold?.drain()
        memory.oomNotification?.drain()
        log([.kernelNotification] + memory.checkOOMKills())
    }

    /// One memory sample and, when it says so, the stop. This is the emergency path: from the reading
    /// to kill(2) nothing allocates (the reading goes into a preallocated buffer, the decision and the
    /// actions are inline values, and the SIGTERM is the first action performed).
    public func sampleMemory(now: MonotonicInstant) {
        guard let memory else { return }
        let wasFailing = memory.isFailing
        switch memory.sample(now: now) {
        case .fire(let reason):
            if let report = memory.report(for: reason) { perform(machine.memoryLimitReached(report, now: now), now: now) }
        case .sampleAgain, nil:
            break
        }
        if memory.isFailing != wasFailing { log([memory.isFailing ? .readingFailed : .readingRecovered]) }
        if let missing = memory.takeMissingFieldsEvent() { log([missing]) }
    }

    /// Signals from outside go to the machine; SIGCHLD means children to reap.
    private func signalsArrived(now: MonotonicInstant) {
        var childSignalled = false
        signals.drain { signal, _ in
            if signal == .child {
                childSignalled = true
            } else {
                perform(machine.signalReceived(signal, now: now), now: now)
            }
        }
        if childSignalled {
            let (reaped, noChildrenLeft) = Reaper.reapAvailable()
            perform(machine.childrenReaped(reaped, noChildrenLeft: noChildrenLeft, now: now), now: now)
        }
    }

    /// sd_notify datagrams: only the main child's count (the entrypoint's temporary server inherits
    /// NOTIFY_SOCKET and says READY=1 too).
    private func notifyArrived(now: MonotonicInstant) {
        guard let notify = health.notify else { return }
        notify.drain { message, sender in
            guard sender != 0, sender == machine.childPID else {
                logger.debug("notify message ignored: not from the command", [("sender_pid", LogValue(sender))])
                return
            }
            if let text = message.status, text != health.serverStatus {
                health.serverStatus = text
                statusDirty = true
            }
            if message.ready { perform(machine.readinessReached(.notify, now: now), now: now) }
            if message.stopping { perform(machine.childNotifiedStopping(now: now), now: now) }
        }
    }

    /// The handshake prober's own steps (its timers, its connection).
    private func readinessStep(now: MonotonicInstant) {
        guard let prober = health.prober else { return }
        switch prober.advance(now: now) {
        case .ready(let version)?:
            health.serverVersion = version
            perform(machine.readinessReached(.handshake, now: now), now: now)
        case .notReady(let reason)?:
            logger.info("not ready yet", [("reason", .string(reason))])
        case nil:
            break
        }
    }

    /// Every status interval: the status is written, and the limits and the OOM-kill counter re-read.
    private func housekeeping(now: MonotonicInstant) {
        statusDirty = true
        guard let memory else { return }
        log(memory.refresh(now: now))
        updateMemoryDescriptors()
    }

    private func updateMemoryDescriptors() {
        guard let memory, memory.notificationGeneration != memoryGeneration else { return }
        memoryGeneration = memory.notificationGeneration
        pollSet.replace(.memory, with: memory.notificationDescriptors)
    }

    func log(_ events: [MemoryGuardEvent]) {
        guard !events.isEmpty else { return }
        for event in events {
            logger.log(event.logLevel, event.logMessage, event.logFields)
            if let (reason, detail) = event.statusEvent {
                health.record(reason: reason, detail: detail)
                statusDirty = true
            }
        }
    }
}
