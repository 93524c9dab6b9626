import CLifeguard
import Glibc

/// The shell around `Supervisor`: one thread, one `ppoll`, performing the actions the state machine
/// returns. No Dispatch and no Swift concurrency: both start threads, and a PID 1 must own every
/// signal in one place.
///
/// What wakes it: the signalfd; the memory guard's kernel notifications; and a timeout, the earliest
/// of the state machine's deadline, the next memory sample and housekeeping (limits, OOM counter).
public final class SupervisorLoop {
    private var machine: Supervisor
    private let spawner: ChildSpawner
    private let signals: SignalChannel
    private let logger: Logger
    /// PID 1 of its namespace: leftovers are signalled with kill(-1).
    private let isInit: Bool
    private let memory: MemoryGuard?
    private let housekeepingInterval: Duration
    private var nextHousekeeping: MonotonicInstant
    /// The poll set, rebuilt only when the guard's descriptors change (never on the sampling path).
    private var pollSet: [pollfd] = []

    public init(machine: Supervisor, spawner: ChildSpawner, signals: consuming SignalChannel, logger: Logger,
                isInit: Bool, memory: MemoryGuard?, housekeepingInterval: Duration = .seconds(2)) {
        self.machine = machine
        self.spawner = spawner
        self.signals = signals
        self.logger = logger
        self.isInit = isInit
        self.memory = memory
        self.housekeepingInterval = housekeepingInterval
        self.nextHousekeeping = .now()
        rebuildPollSet()
    }

    public var supervisor: Supervisor { machine }

    public func run() -> Never {
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
        handleNotifications(now: now)
        if let due = memory?.nextSample, now >= due { sampleMemory(now: now) }
        var childSignalled = false
        signals.drain { signal, _ in
            if signal == .child {
                childSignalled = true
            } else {
                perform(machine.signalReceived(signal, now: .now()))
            }
        }
        if childSignalled { reap() }
        if let deadline = machine.nextDeadline, MonotonicInstant.now() >= deadline {
            perform(machine.deadlineReached(now: .now()))
        }
        if MonotonicInstant.now() >= nextHousekeeping { housekeeping() }
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
    }

    private func nextWake() -> MonotonicInstant {
        var wake = nextHousekeeping
        if let deadline = machine.nextDeadline { wake = min(wake, deadline) }
        if let sample = memory?.nextSample { wake = min(wake, sample) }
        return wake
    }

    private func waitForEvents(until deadline: MonotonicInstant) {
        var timeout = (deadline - .now()).timespec
        pollSet.withUnsafeMutableBufferPointer { fds in
            for index in fds.indices { fds[index].revents = 0 }
            _ = lg_ppoll(fds.baseAddress, nfds_t(fds.count), &timeout)
        }
    }

    /// Kernel notifications (v1 eventfd thresholds, v2 memory.events): sample at once (allocation-free,
    /// like any sample), then consume the notifications and look at the OOM-kill counter.
    private func handleNotifications(now: MonotonicInstant) {
        guard let memory, pollSet.count > 1 else { return }
        var notified = false
        for index in 1..<pollSet.count where pollSet[index].revents != 0 { notified = true }
        guard notified else { return }
        memory.sampleSoon(now: now)
        sampleMemory(now: now)
        memory.usageThreshold?.drain()
        memory.oomNotification?.drain()
        log([.kernelNotification] + memory.checkOOMKills())
    }

    private func housekeeping() {
        let now = MonotonicInstant.now()
        nextHousekeeping = now + housekeepingInterval
        guard let memory else { return }
        let before = memory.notificationDescriptors.map(\.0)
        log(memory.refresh(now: now))
        if memory.notificationDescriptors.map(\.0) != before { rebuildPollSet() }
        if case .running = machine.phase, memory.nextSample == nil { memory.startSampling(now: now) }
    }

    private func rebuildPollSet() {
        pollSet = [pollfd(fd: signals.descriptor.rawValue, events: Int16(POLLIN), revents: 0)]
        for (descriptor, events) in memory?.notificationDescriptors ?? [] {
            pollSet.append(pollfd(fd: descriptor.rawValue, events: events, revents: 0))
        }
    }

    private func reap() {
        let (reaped, noChildrenLeft) = Reaper.reapAvailable()
        perform(machine.childrenReaped(reaped, noChildrenLeft: noChildrenLeft, now: .now()))
    }

    private func perform(_ actions: ActionList) {
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
                case .failure(let error):
                    perform(machine.spawnFailed(error, now: .now()))
                }
            case .signal(let signal, let target):
                send(signal, to: target)
            case .report(let event):
                if case .stopBegan = event { memory?.stopSampling() }
                // A child killed by SIGKILL: say whether the kernel OOM killer did it, before the exit line.
                if case .childExited = event, let memory { log(memory.checkOOMKills()) }
                logger.log(event.logLevel, event.logMessage, event.logFields)
            case .exit(let code):
                exit(code)
            }
        }
    }

    private func send(_ signal: Signal, to target: SignalTarget) {
        switch target {
        case .process(let pid): _ = kill(pid, signal.rawValue)
        case .processGroup(let pid): _ = kill(-pid, signal.rawValue)
        case .remaining: ProcessTree.signalRemaining(signal, isInit: isInit)
        }
    }

    private func log(_ events: [MemoryGuardEvent]) {
        for event in events { logger.log(event.logLevel, event.logMessage, event.logFields) }
    }
}
