import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The supervisor as a pure state machine: every method takes an event and the current monotonic
/// time and returns the actions to perform. It makes no system calls, so every path, including the
/// rare ones (a second SIGTERM during a stop, an unkillable leftover, a crash loop), is tested
/// without processes.
public struct Supervisor: Sendable {
    /// Exit code after a memory-triggered stop with `LIFEGUARD_ON_MEMORY_LIMIT=exit`, or when the
    /// restart cap is reached: EX_TEMPFAIL ("temporary failure; retry"), so `--restart on-failure` and
    /// Kubernetes start the container again, and it is not mistaken for the kernel's 137.
    public static let memoryExitCode: Int32 = 75
    /// The exit code of MySQL's RESTART statement: the server asks its monitor to start it again.
    public static let restartExitCode: Int32 = 16
    /// The command LIFEGUARD_ON_CORRUPTION=resurrect runs (the image links /usr/local/bin/resurrect).
    public static let resurrectCommand = "resurrect"

    /// resurrect's exits for a datadir it replaced: 10, and 11 with losses (resurrect/report.sh).
    static func resurrected(_ status: TerminationStatus) -> Bool {
        status == .exited(10) || status == .exited(11)
    }

    public struct Settings: Sendable, Equatable {
        public var gracePeriod: Duration
        public var signalProcessGroup: Bool
        public var onMemoryLimit: MemoryLimitAction
        /// A crash: the command killed by a signal Lifeguard did not send (SIGSEGV, SIGABRT, the
        /// kernel OOM killer's SIGKILL). `exit` (the default) exits with 128+N like any init.
        public var onCrash: CrashAction
        /// A server that keeps dying during its start, never ready, once the restart cap is reached.
        public var onCorruption: CorruptionAction
        /// Restarts allowed within `restartWindow`; one more and Lifeguard exits.
        public var maxRestarts: Int
        public var restartWindow: Duration
        /// An exit with this code starts the command again at once; nil: none.
        public var restartExitCode: Int32?
        /// After SIGKILL to leftovers, how long to wait for them before exiting anyway (a process in
        /// uninterruptible sleep cannot die; as PID 1, exiting makes the kernel clean up).
        public var abandonAfter: Duration = .seconds(2)

        public init(gracePeriod: Duration = .seconds(60), signalProcessGroup: Bool = false,
                    onMemoryLimit: MemoryLimitAction = .restart, onCrash: CrashAction = .exit,
                    onCorruption: CorruptionAction = .exit, maxRestarts: Int = 5,
                    restartWindow: Duration = .seconds(600), restartExitCode: Int32? = Supervisor.restartExitCode) {
            self.gracePeriod = gracePeriod
            self.signalProcessGroup = signalProcessGroup
            self.onMemoryLimit = onMemoryLimit
            self.onCrash = onCrash
            self.onCorruption = onCorruption
            self.maxRestarts = maxRestarts
            self.restartWindow = restartWindow
            self.restartExitCode = restartExitCode
        }
    }

    public enum Phase: Equatable, Sendable {
        /// Before the first spawn.
        case idle
        /// The spawn action is out; the loop has not reported back yet.
        case spawning
        case running(pid: pid_t)
        /// SIGTERM sent; SIGKILL at `deadline` unless the child exits first.
        case stopping(pid: pid_t, reason: StopReason, deadline: MonotonicInstant, killed: Bool)
        /// The main child is gone but other processes remain: SIGTERM sent to them, SIGKILL at
        /// `deadline`, then (killed) wait until `deadline` once more and go on regardless.
        case draining(deadline: MonotonicInstant, killed: Bool)
        /// Waiting out the backoff before starting COMMAND again.
        case restarting(at: MonotonicInstant)
        case exited(code: Int32)
    }

    /// What to do once the main child and every leftover are gone.
    enum Outcome: Equatable, Sendable {
        case exit(Int32)
        /// After a memory-triggered stop: with backoff, within the cap (then exit 75).
        case restart
        /// After a crash (LIFEGUARD_ON_CRASH=restart): with backoff, within the cap (then exit with
        /// the crash's own code).
        case restartAfterCrash(Int32)
        /// MySQL's RESTART (exit 16): at once, within the cap.
        case restartAtOnce
        /// `resurrect` ended: the server again if it replaced the datadir, else exit with the crash's code.
        case resurrectEnded
    }

    public let settings: Settings
    public private(set) var phase: Phase = .idle
    /// How the last main child ended.
    public private(set) var lastExit: TerminationStatus?
    /// Restarts since Lifeguard started.
    public private(set) var restarts = 0
    /// When each restart within the window happened.
    private var recentRestarts: [MonotonicInstant] = []
    /// Memory-triggered stops since Lifeguard started.
    public private(set) var memoryStops = 0
    /// How the running child became ready; nil while it has not.
    public private(set) var readiness: ReadinessSource?
    /// Ready, and a replica that is not current: `reason` says why.
    public mutating func replicaFellBehind(_ reason: String, now: MonotonicInstant) -> ActionList {
        guard case .running = phase, readiness != nil, !childStopping, !replicaBehind else { return ActionList() }
        replicaBehind = true
        return ActionList(.report(.replicaBehind(reason: reason)))
    }

    /// The replica is current again.
    public mutating func replicaCaughtUp(now: MonotonicInstant) -> ActionList {
        guard case .running = phase, replicaBehind else { return ActionList() }
        replicaBehind = false
        return ActionList(.report(.replicaCurrent))
    }

    /// The running child said STOPPING=1: it is shutting down by itself.
    public private(set) var childStopping = false
    /// Ready, then no answer on Lifeguard's own connection several times in a row.
    public private(set) var unresponsive = false
    /// Ready, and a replica that is not current (`ReplicaCheck`).
    public private(set) var replicaBehind = false
    /// The running child is `resurrect`, not the server (LIFEGUARD_ON_CORRUPTION=resurrect).
    public private(set) var resurrecting = false
    /// Resurrect runs once: a crash loop after it is the orchestrator's.
    private var resurrectTried = false
    /// When a child last became ready: a crash loop with no readiness since its first restart is one
    /// of a server that cannot start.
    private var lastReadyAt: MonotonicInstant?
    /// The crash loop's last code, which a resurrect that replaced nothing exits with.
    private var crashCode: Int32 = 0
    /// A stop was asked from outside: whatever else happens, Lifeguard exits after it.
    private var exitRequested = false
    /// The signals Lifeguard sent the running child (bit N: signal N), so that its death by one of
    /// them is not taken for a crash.
    private var signalsSent: UInt64 = 0
    private var outcome: Outcome = .exit(0)

    public init(settings: Settings) {
        self.settings = settings
    }

    /// The main child's pid while one runs.
    public var childPID: pid_t? {
        switch phase {
        case .running(let pid), .stopping(let pid, _, _, _): return pid
        default: return nil
        }
    }

    /// The state the status file shows.
    public var serviceState: ServiceState {
        switch phase {
        case .idle, .spawning: return .starting
        case .running:
            if resurrecting { return .resurrecting }
            if childStopping { return .stopping }
            guard readiness != nil else { return .starting }
            return unresponsive ? .unresponsive : replicaBehind ? .replicaBehind : .ready
        case .stopping, .draining: return .stopping
        case .restarting: return .restarting
        case .exited: return .exited
        }
    }

    /// When `deadlineReached` must next be called, if ever.
    public var nextDeadline: MonotonicInstant? {
        switch phase {
        case .stopping(_, _, let deadline, false), .draining(let deadline, _), .restarting(let deadline): return deadline
        default: return nil
        }
    }

    // MARK: - Events

    public mutating func start(now: MonotonicInstant) -> ActionList {
        precondition(phase == .idle, "start called twice")
        phase = .spawning
        return ActionList(.spawn)
    }

    public mutating func spawned(pid: pid_t, now: MonotonicInstant) -> ActionList {
        phase = .running(pid: pid)
        readiness = nil
        childStopping = false
        unresponsive = false
        replicaBehind = false
        signalsSent = 0
        // Sampling first: a burst can come with the first page the child touches.
        if resurrecting { return ActionList(.startSampling, .report(.childStarted(pid: pid, restarts: restarts))) }
        return ActionList(.startSampling, .beginReadiness(pid: pid), .report(.childStarted(pid: pid, restarts: restarts)))
    }

    /// The running child accepts connections.
    public mutating func readinessReached(_ source: ReadinessSource, now: MonotonicInstant) -> ActionList {
        guard case .running = phase, readiness == nil, !childStopping else { return ActionList() }
        readiness = source
        lastReadyAt = now
        return ActionList(.endReadiness, .report(.ready(source)))
    }

    /// Ready, and Lifeguard's own connection has had no answer `failures` times in a row.
    public mutating func serverUnresponsive(failures: Int, now: MonotonicInstant) -> ActionList {
        guard case .running = phase, readiness != nil, !childStopping, !unresponsive else { return ActionList() }
        unresponsive = true
        return ActionList(.report(.unresponsive(failures: failures)))
    }

    /// The server answers Lifeguard's connection again.
    public mutating func serverAnswering(now: MonotonicInstant) -> ActionList {
        guard case .running = phase, unresponsive else { return ActionList() }
        unresponsive = false
        return ActionList(.report(.answeringAgain))
    }

    /// The running child said STOPPING=1: its own shutdown (SHUTDOWN, mysqladmin shutdown) began.
    public mutating func childNotifiedStopping(now: MonotonicInstant) -> ActionList {
        guard case .running = phase, !childStopping else { return ActionList() }
        childStopping = true
        return ActionList(.report(.serverStopping))
    }

    public mutating func spawnFailed(_ error: SpawnError, now: MonotonicInstant) -> ActionList {
        // No resurrect to run: the crash loop is the orchestrator's, with its own code.
        finish(code: resurrecting ? crashCode : error.exitCode, after: ActionList(.report(.spawnFailed(error))))
    }

    /// A signal arrived from outside (SIGCHLD never comes here: the loop reaps instead).
    public mutating func signalReceived(_ signal: Signal, now: MonotonicInstant) -> ActionList {
        if signal == .terminate { exitRequested = true }
        switch phase {
        case .running(let pid):
            if signal == .terminate { return beginStop(.signal(signal), pid: pid, now: now) }
            return forward(signal, to: pid)
        case .stopping(let pid, _, _, _):
            // A second stop signal is forwarded again; the SIGKILL deadline stays where it was.
            return forward(signal, to: pid)
        case .draining:
            return ActionList(.signal(signal, .remaining), .report(.signalForwarded(signal, .remaining)))
        case .restarting:
            // Nothing runs: a stop request ends Lifeguard now, with the last child's code.
            return signal == .terminate ? finish(code: lastExit?.shellExitCode ?? 0, after: ActionList()) : ActionList()
        case .idle, .spawning, .exited:
            return ActionList()
        }
    }

    /// The memory guard fired. The first action is the SIGTERM, so the loop reaches kill(2) before
    /// anything else (logging, the status file) and without allocating.
    public mutating func memoryLimitReached(_ report: MemoryTriggerReport, now: MonotonicInstant) -> ActionList {
        guard case .running(let pid) = phase else { return ActionList() }
        memoryStops += 1
        return beginStop(.memory(report), pid: pid, now: now)
    }

    /// The loop reaped these processes; `noChildrenLeft` means waitpid said ECHILD afterwards.
    public mutating func childrenReaped(
        _ reaped: [ReapedProcess], noChildrenLeft: Bool, now: MonotonicInstant
    ) -> ActionList {
        var actions = ActionList()
        var orphans = 0
        var mainExited = false
        for process in reaped {
            if process.pid == childPID {
                lastExit = process.status
                outcome = outcomeAfterExit(of: process.status)
                mainExited = true
                // Whether the kernel killed it is said before the exit line.
                actions.append(.checkOOMKills)
                actions.append(.stopSampling)
                actions.append(.endReadiness)
                actions.append(.report(.childExited(pid: process.pid, status: process.status)))
                if outcome == .restartAtOnce, case .exited(let code) = process.status {
                    actions.append(.report(.restartRequested(exitCode: code)))
                }
                if case .restartAfterCrash = outcome, case .signaled(let signal, _) = process.status {
                    actions.append(.report(.crashed(signal)))
                }
                if outcome == .resurrectEnded {
                    actions.append(.report(.resurrectEnded(status: process.status, resurrected: Supervisor.resurrected(process.status))))
                }
            } else {
                orphans += 1
            }
        }
        if orphans > 0 { actions.append(.report(.orphansReaped(count: orphans))) }

        if mainExited {
            if noChildrenLeft { return proceed(now: now, after: actions) }
            phase = .draining(deadline: now + settings.gracePeriod, killed: false)
            actions.append(.signal(.terminate, .remaining))
            actions.append(.report(.remainingSignalled(.terminate, gracePeriod: settings.gracePeriod)))
            return actions
        }
        if case .draining = phase, noChildrenLeft { return proceed(now: now, after: actions) }
        return actions
    }

    /// Call when `nextDeadline` has passed.
    public mutating func deadlineReached(now: MonotonicInstant) -> ActionList {
        guard let deadline = nextDeadline, now >= deadline else { return ActionList() }
        switch phase {
        case .stopping(let pid, let reason, _, _):
            phase = .stopping(pid: pid, reason: reason, deadline: deadline, killed: true)
            return ActionList(signalChild(.kill, pid),
                              .report(.gracePeriodExpired(pid: pid, gracePeriod: settings.gracePeriod)))
        case .draining(_, false):
            phase = .draining(deadline: now + settings.abandonAfter, killed: true)
            return ActionList(.signal(.kill, .remaining), .report(.remainingKilled))
        case .draining(_, true):
            return proceed(now: now, after: ActionList(.report(.remainingAbandoned)))
        case .restarting:
            return respawn(now: now, after: ActionList())
        default:
            return ActionList()
        }
    }

    // MARK: - Helpers

    /// The one graceful-stop procedure: SIGTERM now, SIGKILL when the grace period ends, unless the
    /// child exits first (the loop wakes on SIGCHLD, so the wait ends the moment it does).
    private mutating func beginStop(_ reason: StopReason, pid: pid_t, now: MonotonicInstant) -> ActionList {
        phase = .stopping(pid: pid, reason: reason, deadline: now + settings.gracePeriod, killed: false)
        // SIGTERM first: on the memory-emergency path nothing may come before kill(2).
        return ActionList(signalChild(.terminate, pid), .stopSampling,
                          .report(.stopBegan(reason, pid: pid, gracePeriod: settings.gracePeriod)))
    }

    /// What the main child's exit leads to, decided while the phase still says why it stopped.
    private func outcomeAfterExit(of status: TerminationStatus) -> Outcome {
        if exitRequested { return .exit(status.shellExitCode) }
        if resurrecting { return .resurrectEnded }
        if case .stopping(_, .memory, _, _) = phase {
            return settings.onMemoryLimit == .restart ? .restart : .exit(Supervisor.memoryExitCode)
        }
        if let code = settings.restartExitCode, status == .exited(code) { return .restartAtOnce }
        if case .signaled(let signal, _) = status, settings.onCrash == .restart, !sent(signal) {
            return .restartAfterCrash(status.shellExitCode)
        }
        // With LIFEGUARD_ON_CORRUPTION=resurrect, dying before ready (InnoDB aborting its start exits 1)
        // is a crash loop too: restarted within the cap, then the resurrect.
        if settings.onCorruption == .resurrect, readiness == nil, !status.isSuccess, case .running = phase {
            return .restartAfterCrash(status.shellExitCode)
        }
        return .exit(status.shellExitCode)
    }

    /// A signal for the running child, remembered so that dying of it is not a crash. (Plain
    /// comparisons, not a range: this is on the path to kill(2), where nothing may allocate, not even
    /// a generic type's metadata on first use.)
    private mutating func signalChild(_ signal: Signal, _ pid: pid_t) -> Action {
        signalsSent |= Supervisor.bit(signal)
        return .signal(signal, target(pid))
    }

    private func sent(_ signal: Signal) -> Bool { signalsSent & Supervisor.bit(signal) != 0 }

    private static func bit(_ signal: Signal) -> UInt64 {
        signal.rawValue >= 1 && signal.rawValue <= 64 ? UInt64(1) << UInt64(signal.rawValue - 1) : 0
    }

    /// The main child and every leftover are gone: exit, or start COMMAND again.
    private mutating func proceed(now: MonotonicInstant, after actions: ActionList) -> ActionList {
        if case .exit(let code) = outcome { return finish(code: code, after: actions) }
        if exitRequested { return finish(code: lastExit?.shellExitCode ?? 0, after: actions) }
        var actions = actions
        if outcome == .resurrectEnded {
            resurrecting = false
            guard let status = lastExit, Supervisor.resurrected(status) else { return finish(code: crashCode, after: actions) }
            // A new datadir: the server gets a whole restart cap again.
            recentRestarts.removeAll()
            actions.append(.report(.restartScheduled(delay: .zero, restarts: restarts + 1)))
            return respawn(now: now, after: actions)
        }
        recentRestarts.removeAll { now - $0 >= settings.restartWindow }
        if recentRestarts.count >= settings.maxRestarts {
            if case .restartAfterCrash(let code) = outcome, settings.onCorruption == .resurrect, !resurrectTried,
               lastReadyAt.map({ $0 < recentRestarts.first ?? now }) ?? true {
                resurrectTried = true
                resurrecting = true
                crashCode = code
                phase = .spawning
                actions.append(.report(.resurrectBegan))
                actions.append(.spawnResurrect)
                return actions
            }
            actions.append(.report(.restartLimitReached(restarts: recentRestarts.count, window: settings.restartWindow)))
            if case .restartAfterCrash(let code) = outcome { return finish(code: code, after: actions) }
            return finish(code: Supervisor.memoryExitCode, after: actions)
        }
        let delay = outcome == .restartAtOnce ? .zero : Supervisor.backoff(afterRestarts: recentRestarts.count)
        actions.append(.report(.restartScheduled(delay: delay, restarts: restarts + 1)))
        if delay == .zero { return respawn(now: now, after: actions) }
        phase = .restarting(at: now + delay)
        return actions
    }

    private mutating func respawn(now: MonotonicInstant, after actions: ActionList) -> ActionList {
        var actions = actions
        recentRestarts.append(now)
        restarts += 1
        phase = .spawning
        actions.append(.spawn)
        return actions
    }

    /// No wait for the first restart in a window (downtime is the database's own shutdown and start),
    /// then 1 s, 2 s, 4 s … up to 30 s.
    public static func backoff(afterRestarts count: Int) -> Duration {
        guard count > 0 else { return .zero }
        return .seconds(min(30, 1 << min(count - 1, 5)))
    }

    private mutating func forward(_ signal: Signal, to pid: pid_t) -> ActionList {
        ActionList(signalChild(signal, pid), .report(.signalForwarded(signal, target(pid))))
    }

    private func target(_ pid: pid_t) -> SignalTarget {
        settings.signalProcessGroup ? .processGroup(pid) : .process(pid)
    }

    private mutating func finish(code: Int32, after actions: ActionList) -> ActionList {
        var actions = actions
        phase = .exited(code: code)
        actions.append(.report(.exiting(code: code)))
        actions.append(.exit(code))
        return actions
    }
}
