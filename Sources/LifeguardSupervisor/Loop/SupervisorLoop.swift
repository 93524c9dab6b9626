import CLifeguard
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The shell around `Supervisor`: one thread, one `ppoll`, performing the actions the state machine
/// returns. No Dispatch and no Swift concurrency: both start threads, and a PID 1 must own every
/// signal in one place.
///
/// What wakes it: the signalfd, the notify socket, a readiness probe connection, the memory guard's
/// kernel notifications; and a timeout, the earliest of the state machine's deadline, the next memory
/// sample, the readiness prober's next step and the next status write (which also re-reads limits).
public final class SupervisorLoop {
    var machine: Supervisor
    let spawner: ChildSpawner
    let signals: SignalChannel
    let logger: Logger
    /// PID 1 of its namespace: leftovers are signalled with kill(-1).
    let isInit: Bool
    let memory: MemoryGuard?
    let health: Health
    /// Fixed slots: signalfd, notify socket, probe connection (fd -1 when unused: poll skips it), then
    /// the memory guard's notifications. Updated in place; rebuilt only when the guard's change.
    private var pollSet: [pollfd] = []
    private static let memorySlots = 3
    /// Something the status file shows changed: write it after this turn.
    var statusDirty = true
    /// When start-up is over and the pages it used are dropped (`Footprint.settle`); nil once done.
    private var settleAt: MonotonicInstant? = .now() + .seconds(5)
    /// Why Lifeguard's memory could not be locked (RLIMIT_MEMLOCK, no CAP_IPC_LOCK); nil when it is.
    private var memoryLockError: Errno?
    /// The emergency path has run once (without effect) since the first child started.
    private var emergencyPathWarm = false

    public init(machine: Supervisor, spawner: ChildSpawner, signals: consuming SignalChannel, logger: Logger,
                isInit: Bool, memory: MemoryGuard?, health: Health = Health()) {
        self.machine = machine
        self.spawner = spawner
        self.signals = signals
        self.logger = logger
        self.isInit = isInit
        self.memory = memory
        self.health = health
        rebuildPollSet()
    }

    public var supervisor: Supervisor { machine }

    public func run() -> Never {
        // Locked from the first instruction of the loop, not only once start-up is over: a container
        // full of page cache evicts whatever is not locked, and a refault of Lifeguard's own code
        // waits for a disk read queued behind the writeback of that cache (measured: with a writer
        // filling the cache, this lost most bursts; see the Residency rules in `Footprint`).
        memoryLockError = Footprint.lock()
        if let memoryLockError {
            logger.warn("cannot lock Lifeguard's memory: under page-cache pressure its own code may be evicted and slow the guard",
                        [("error", .string(memoryLockError.description)), ("hint", "raise RLIMIT_MEMLOCK (ulimit -l) or grant CAP_IPC_LOCK")])
        }
        if let memory { log(memory.refresh(now: .now())) }
        rebuildPollSet()
        start()
        while true { runOnce() }
    }

    /// Starts the command (the first action of the state machine).
    public func start() {
        perform(machine.start(now: .now()))
    }

    /// One turn of the loop: wait, then handle what woke it.
    public func runOnce() {
        waitForEvents(until: nextWake())
        let now = MonotonicInstant.now()
        handleMemoryNotifications(now: now)
        if let due = memory?.nextSample, now >= due { sampleMemory(now: now) }
        var childSignalled = false
        if pollSet[0].revents != 0 {
            signals.drain { signal, _ in
                if signal == .child {
                    childSignalled = true
                } else {
                    perform(machine.signalReceived(signal, now: .now()))
                }
            }
        }
        if childSignalled { reap() }
        handleNotifyMessages()
        advanceReadiness()
        if let deadline = machine.nextDeadline, MonotonicInstant.now() >= deadline {
            perform(machine.deadlineReached(now: .now()))
        }
        if MonotonicInstant.now() >= health.reporter.nextWrite { housekeeping() }
        if statusDirty { writeStatus() }
        if let settleAt, MonotonicInstant.now() >= settleAt { settle() }
    }

    /// Once start-up is over: drop the pages it used, bring the memory-emergency path back in by
    /// running it without effect, and lock what the loop uses (see `Footprint`).
    private func settle() {
        settleAt = nil
        let debug = logger.isEnabled(.debug)
        let before = debug ? Footprint.residentPages() : 0
        let mappings = Footprint.executableMappings()
        Footprint.unlock()
        Footprint.settle(mappings)
        let locked = Footprint.lock()
        memoryLockError = locked
        warmEmergencyPath()
        if debug {
            let page = Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
            logger.debug("settled", [("resident_kib_before", LogValue(before * page)),
                                     ("memory_locked", locked.map { LogValue("no: \($0)") } ?? .bool(true))])
        }
    }

    /// The path from a reading over the trigger to kill(2), run on copies with signal 0 (which only
    /// checks the process exists), so that its pages are resident when it matters.
    private func warmEmergencyPath() {
        guard let memory, let trigger = memory.policy?.trigger else { return }
        let now = MonotonicInstant.now()
        _ = memory.policy?.decide(MemoryReading(usage: trigger, inactiveFile: 0), growthRate: 0)
        let reading = memory.cgroup.read(exact: true)
        // Right after the first spawn no sample has run yet: a report is made from this reading.
        guard let report = memory.report(for: .reachedTrigger) ?? reading.map({
            MemoryTriggerReport(reading: $0, trigger: trigger, hardLimit: memory.limits.hard, reason: .reachedTrigger, growthRate: 0)
        }) else { return }
        var copy = machine
        let actions = copy.memoryLimitReached(report, now: now)
        if actions.count > 0, case .signal(_, let target) = actions[0] { send(Signal(rawValue: 0), to: target) }
    }

    /// One memory sample and, when it says so, the stop. This is the emergency path: from the reading
    /// to kill(2) nothing allocates (the reading goes into a preallocated buffer, the decision and the
    /// actions are inline values, and the SIGTERM is the first action performed).
    public func sampleMemory(now: MonotonicInstant) {
        guard let memory else { return }
        let wasFailing = memory.isFailing
        switch memory.sample(now: now) {
        case .fire(let reason):
            if let report = memory.report(for: reason) { perform(machine.memoryLimitReached(report, now: now)) }
        case .sampleAgain, nil:
            break
        }
        if memory.isFailing != wasFailing { log([memory.isFailing ? .readingFailed : .readingRecovered]) }
        if let missing = memory.takeMissingFieldsEvent() { log([missing]) }
    }

    private func nextWake() -> MonotonicInstant {
        var wake = health.reporter.nextWrite
        if let deadline = machine.nextDeadline { wake = min(wake, deadline) }
        if let sample = memory?.nextSample { wake = min(wake, sample) }
        if let probe = health.prober?.nextWake { wake = min(wake, probe) }
        return wake
    }

    private func waitForEvents(until deadline: MonotonicInstant) {
        var timeout = (deadline - .now()).timespec
        pollSet[2].fd = health.prober?.pollDescriptor ?? -1
        pollSet.withUnsafeMutableBufferPointer { fds in
            for index in fds.indices { fds[index].revents = 0 }
            _ = lg_ppoll(fds.baseAddress, nfds_t(fds.count), &timeout)
        }
    }

    /// Kernel notifications (v1 eventfd thresholds, v2 memory.events): sample at once (allocation-free,
    /// like any sample), then consume the notifications and look at the OOM-kill counter.
    private func handleMemoryNotifications(now: MonotonicInstant) {
        guard let memory, pollSet.count > SupervisorLoop.memorySlots else { return }
        var notified = false
        for index in SupervisorLoop.memorySlots..<pollSet.count where pollSet[index].revents != 0 { notified = true }
        guard notified else { return }
        memory.sampleSoon(now: now)
        sampleMemory(now: now)
        memory.usageThreshold?.drain()
        memory.oomNotification?.drain()
        log([.kernelNotification] + memory.checkOOMKills())
    }

    /// sd_notify datagrams: only the main child's count (the entrypoint's temporary server inherits
    /// NOTIFY_SOCKET and says READY=1 too).
    private func handleNotifyMessages() {
        guard let notify = health.notify, pollSet[1].revents != 0 else { return }
        notify.drain { message, sender in
            guard sender != 0, sender == machine.childPID else {
                logger.debug("notify message ignored: not from the command", [("sender_pid", LogValue(sender))])
                return
            }
            if let text = message.status, text != health.serverStatus {
                health.serverStatus = text
                statusDirty = true
            }
            if message.ready { perform(machine.readinessReached(.notify, now: .now())) }
            if message.stopping { perform(machine.childNotifiedStopping(now: .now())) }
        }
    }

    private func advanceReadiness() {
        guard let prober = health.prober else { return }
        switch prober.advance(now: .now()) {
        case .ready(let version)?:
            health.serverVersion = version
            perform(machine.readinessReached(.handshake, now: .now()))
        case .notReady(let reason)?:
            logger.info("not ready yet", [("reason", .string(reason))])
        case nil:
            break
        }
    }

    private func housekeeping() {
        let now = MonotonicInstant.now()
        statusDirty = true
        guard let memory else { return }
        let generation = memory.notificationGeneration
        log(memory.refresh(now: now))
        if memory.notificationGeneration != generation { rebuildPollSet() }
        if case .running = machine.phase, memory.nextSample == nil { memory.startSampling(now: now) }
    }

    private func rebuildPollSet() {
        pollSet = [pollfd(fd: signals.descriptor.rawValue, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: health.notify?.descriptor.rawValue ?? -1, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: -1, events: Int16(POLLIN), revents: 0)]
        for (descriptor, events) in memory?.notificationDescriptors ?? [] {
            pollSet.append(pollfd(fd: descriptor.rawValue, events: events, revents: 0))
        }
    }

    private func reap() {
        let (reaped, noChildrenLeft) = Reaper.reapAvailable()
        perform(machine.childrenReaped(reaped, noChildrenLeft: noChildrenLeft, now: .now()))
    }

    func perform(_ actions: ActionList) {
        // Indexed directly, not through the Collection protocol: in a debug build its `read` coroutine
        // allocates a frame, and this runs on the emergency path before kill(2).
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .spawn:
                switch spawner.spawn() {
                case .success(let pid):
                    perform(machine.spawned(pid: pid, now: .now()))
                    memory?.startSampling(now: .now())
                    health.childStarted(pid: pid)
                    // The first burst may come at once: its path must be resident (and locked) before.
                    if !emergencyPathWarm {
                        emergencyPathWarm = true
                        warmEmergencyPath()
                    }
                case .failure(let error):
                    perform(machine.spawnFailed(error, now: .now()))
                }
            case .signal(let signal, let target):
                send(signal, to: target)
            case .report(let event):
                report(event)
            case .exit(let code):
                finish(code: code)
            }
        }
    }

    private func report(_ event: SupervisorEvent) {
        switch event {
        case .stopBegan: memory?.stopSampling()
        // A child killed by SIGKILL: say whether the kernel OOM killer did it, before the exit line.
        case .childExited: if let memory { log(memory.checkOOMKills()) }
        default: break
        }
        if case .ready = event { health.becameReady() }
        if case .childExited = event { health.prober?.end() }
        logger.log(event.logLevel, event.logMessage, event.logFields)
        if let (reason, detail) = event.statusEvent { health.record(reason: reason, detail: detail) }
        statusDirty = true
    }

    private func send(_ signal: Signal, to target: SignalTarget) {
        switch target {
        case .process(let pid): _ = kill(pid, signal.rawValue)
        case .processGroup(let pid): _ = kill(-pid, signal.rawValue)
        case .remaining: ProcessTree.signalRemaining(signal, isInit: isInit)
        }
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

    /// The last status write, then exit.
    private func finish(code: Int32) -> Never {
        writeStatus(exitCode: code)
        // What was handed over is written before exiting, unless stderr or the disk hangs.
        health.output?.flush(timeout: .seconds(2))
        health.notify.map { unlink($0.path) }
        exit(code)
    }
}
