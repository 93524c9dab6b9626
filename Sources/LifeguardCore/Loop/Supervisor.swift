import Glibc

/// The supervisor as a pure state machine: every method takes an event and the current monotonic
/// time and returns the actions to perform. It makes no system calls, so every path, including the
/// rare ones (a second SIGTERM during a stop, an unkillable leftover), is tested without processes.
public struct Supervisor: Sendable {
    public struct Settings: Sendable, Equatable {
        public var gracePeriod: Duration
        public var signalProcessGroup: Bool
        /// After SIGKILL to leftovers, how long to wait for them before exiting anyway (a process in
        /// uninterruptible sleep cannot die; as PID 1, exiting makes the kernel clean up).
        public var abandonAfter: Duration = .seconds(2)

        public init(gracePeriod: Duration = .seconds(60), signalProcessGroup: Bool = false) {
            self.gracePeriod = gracePeriod
            self.signalProcessGroup = signalProcessGroup
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
        /// `deadline`, then (killed) wait until `deadline` once more and exit regardless.
        case draining(deadline: MonotonicInstant, killed: Bool)
        case exited(code: Int32)
    }

    public let settings: Settings
    public private(set) var phase: Phase = .idle
    /// How the last main child ended.
    public private(set) var lastExit: TerminationStatus?

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

    /// When `deadlineReached` must next be called, if ever.
    public var nextDeadline: MonotonicInstant? {
        switch phase {
        case .stopping(_, _, let deadline, false), .draining(let deadline, _): return deadline
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
        return ActionList(.report(.childStarted(pid: pid)))
    }

    public mutating func spawnFailed(_ error: SpawnError, now: MonotonicInstant) -> ActionList {
        finish(code: error.exitCode, first: .report(.spawnFailed(error)))
    }

    /// A signal arrived from outside (SIGCHLD never comes here: the loop reaps instead).
    public mutating func signalReceived(_ signal: Signal, now: MonotonicInstant) -> ActionList {
        switch phase {
        case .running(let pid):
            if signal == .terminate { return beginStop(.signal(signal), pid: pid, now: now) }
            return forward(signal, to: target(pid))
        case .stopping(let pid, _, _, _):
            // A second stop signal is forwarded again; the SIGKILL deadline stays where it was.
            return forward(signal, to: target(pid))
        case .draining:
            return forward(signal, to: .remaining)
        case .idle, .spawning, .exited:
            return ActionList()
        }
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
                mainExited = true
                actions.append(.report(.childExited(pid: process.pid, status: process.status)))
            } else {
                orphans += 1
            }
        }
        if orphans > 0 { actions.append(.report(.orphansReaped(count: orphans))) }

        if mainExited {
            if noChildrenLeft { return finish(code: exitCode, after: actions) }
            phase = .draining(deadline: now + settings.gracePeriod, killed: false)
            actions.append(.signal(.terminate, .remaining))
            actions.append(.report(.remainingSignalled(.terminate, gracePeriod: settings.gracePeriod)))
            return actions
        }
        if case .draining = phase, noChildrenLeft { return finish(code: exitCode, after: actions) }
        return actions
    }

    /// Call when `nextDeadline` has passed.
    public mutating func deadlineReached(now: MonotonicInstant) -> ActionList {
        guard let deadline = nextDeadline, now >= deadline else { return ActionList() }
        switch phase {
        case .stopping(let pid, let reason, _, _):
            phase = .stopping(pid: pid, reason: reason, deadline: deadline, killed: true)
            return ActionList(.signal(.kill, target(pid)),
                              .report(.gracePeriodExpired(pid: pid, gracePeriod: settings.gracePeriod)))
        case .draining(_, false):
            phase = .draining(deadline: now + settings.abandonAfter, killed: true)
            return ActionList(.signal(.kill, .remaining), .report(.remainingKilled))
        case .draining(_, true):
            return finish(code: exitCode, first: .report(.remainingAbandoned))
        default:
            return ActionList()
        }
    }

    // MARK: - Helpers

    /// The one graceful-stop procedure: SIGTERM now, SIGKILL when the grace period ends, unless the
    /// child exits first (the loop wakes on SIGCHLD, so the wait ends the moment it does).
    private mutating func beginStop(_ reason: StopReason, pid: pid_t, now: MonotonicInstant) -> ActionList {
        phase = .stopping(pid: pid, reason: reason, deadline: now + settings.gracePeriod, killed: false)
        return ActionList(.signal(.terminate, target(pid)),
                          .report(.stopBegan(reason, pid: pid, gracePeriod: settings.gracePeriod)))
    }

    private func forward(_ signal: Signal, to target: SignalTarget) -> ActionList {
        ActionList(.signal(signal, target), .report(.signalForwarded(signal, target)))
    }

    private func target(_ pid: pid_t) -> SignalTarget {
        settings.signalProcessGroup ? .processGroup(pid) : .process(pid)
    }

    /// The code Lifeguard exits with: the main child's, as a shell reports it (128+N for signal N).
    private var exitCode: Int32 { lastExit?.shellExitCode ?? 0 }

    private mutating func finish(code: Int32, first: Action) -> ActionList {
        finish(code: code, after: ActionList(first))
    }

    private mutating func finish(code: Int32, after actions: ActionList) -> ActionList {
        var actions = actions
        phase = .exited(code: code)
        actions.append(.report(.exiting(code: code)))
        actions.append(.exit(code))
        return actions
    }
}
