import CLifeguard
import Glibc

/// The shell around `Supervisor`: one thread, one `ppoll` over the signalfd, performing the actions
/// the state machine returns. No Dispatch and no Swift concurrency: both start threads, and a PID 1
/// must own every signal in one place.
public final class SupervisorLoop {
    private var machine: Supervisor
    private let spawner: ChildSpawner
    private let signals: SignalChannel
    private let logger: Logger
    /// PID 1 of its namespace: leftovers are signalled with kill(-1).
    private let isInit: Bool

    public init(machine: Supervisor, spawner: ChildSpawner, signals: consuming SignalChannel, logger: Logger, isInit: Bool) {
        self.machine = machine
        self.spawner = spawner
        self.signals = signals
        self.logger = logger
        self.isInit = isInit
    }

    public func run() -> Never {
        perform(machine.start(now: .now()))
        while true {
            waitForEvents(until: machine.nextDeadline)
            let now = MonotonicInstant.now()
            var childSignalled = false
            signals.drain { signal, _ in
                if signal == .child {
                    childSignalled = true
                } else {
                    perform(machine.signalReceived(signal, now: now))
                }
            }
            if childSignalled { reap(now: now) }
            if let deadline = machine.nextDeadline, MonotonicInstant.now() >= deadline {
                perform(machine.deadlineReached(now: .now()))
            }
        }
    }

    /// Sleeps in ppoll until the signalfd is readable or `deadline` passes.
    private func waitForEvents(until deadline: MonotonicInstant?) {
        var descriptor = pollfd(fd: signals.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        if let deadline {
            var timeout = (deadline - .now()).timespec
            _ = lg_ppoll(&descriptor, 1, &timeout)
        } else {
            _ = lg_ppoll(&descriptor, 1, nil)
        }
    }

    private func reap(now: MonotonicInstant) {
        let (reaped, noChildrenLeft) = Reaper.reapAvailable()
        perform(machine.childrenReaped(reaped, noChildrenLeft: noChildrenLeft, now: now))
    }

    private func perform(_ actions: ActionList) {
        for action in actions {
            switch action {
            case .spawn:
                switch spawner.spawn() {
                case .success(let pid): perform(machine.spawned(pid: pid, now: .now()))
                case .failure(let error): perform(machine.spawnFailed(error, now: .now()))
                }
            case .signal(let signal, let target):
                send(signal, to: target)
            case .report(let event):
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
}
