import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Whom a signal goes to.
public enum SignalTarget: Equatable, Sendable {
    /// The supervised command alone.
    case process(pid_t)
    /// The command's process group (it is the group leader, so the group id is its pid).
    case processGroup(pid_t)
    /// Every process left besides Lifeguard: re-parented orphans and their descendants.
    case remaining
}

/// How Lifeguard learned that the command accepts connections.
public enum ReadinessSource: String, Equatable, Sendable {
    /// `READY=1` on the notify socket, from the main child.
    case notify
    /// A MySQL handshake greeting read from the ready address, served by the main child.
    case handshake
}

/// Why a graceful stop began.
public enum StopReason: Equatable, Sendable {
    /// A signal from outside: `docker stop`, the kubelet, a person.
    case signal(Signal)
    /// The memory guard: the working set reached the trigger (or was about to pass the hard limit).
    case memory(MemoryTriggerReport)
}

/// The figures at the moment the memory guard fired: plain values, so reporting them never allocates.
public struct MemoryTriggerReport: Equatable, Sendable {
    public var reading: MemoryReading
    public var trigger: UInt64
    public var hardLimit: UInt64?
    public var reason: MemoryPolicy.FireReason
    /// Observed growth of the working set, bytes per second.
    public var growthRate: Double
    /// How long after its planned time the sample that fired ran (scheduling delay).
    public var sampleDelay: Duration

    public init(reading: MemoryReading, trigger: UInt64, hardLimit: UInt64?, reason: MemoryPolicy.FireReason,
                growthRate: Double, sampleDelay: Duration = .zero) {
        self.reading = reading
        self.trigger = trigger
        self.hardLimit = hardLimit
        self.reason = reason
        self.growthRate = growthRate
        self.sampleDelay = sampleDelay
    }
}

/// What the supervisor tells the log (and, later, the status file) about. Payloads are plain values,
/// so building one never allocates; the loop turns them into text after acting.
public enum SupervisorEvent: Equatable, Sendable {
    case childStarted(pid: pid_t, restarts: Int)
    case spawnFailed(SpawnError)
    case signalForwarded(Signal, SignalTarget)
    case stopBegan(StopReason, pid: pid_t, gracePeriod: Duration)
    case gracePeriodExpired(pid: pid_t, gracePeriod: Duration)
    case childExited(pid: pid_t, status: TerminationStatus)
    case orphansReaped(count: Int)
    case remainingSignalled(Signal, gracePeriod: Duration)
    case remainingKilled
    case remainingAbandoned
    /// The command accepts connections.
    case ready(ReadinessSource)
    /// The command said (STOPPING=1) that it is shutting down by itself.
    case serverStopping
    /// Ready, then no answer on Lifeguard's own connection `failures` times in a row: not ready.
    case unresponsive(failures: Int)
    /// It answers again: ready.
    case answeringAgain
    /// Ready, then a replica not current (a replication thread stopped, or too far behind): not ready.
    case replicaBehind(reason: String)
    /// The replica is current again: ready.
    case replicaCurrent
    /// The command exited with the restart exit code (LIFEGUARD_RESTART_EXIT_CODE; 16 is MySQL's
    /// RESTART statement): it is started again at once.
    case restartRequested(exitCode: Int32)
    /// The command was killed by a signal Lifeguard did not send, and LIFEGUARD_ON_CRASH=restart.
    case crashed(Signal)
    /// The next start of COMMAND, `delay` from now (0: at once).
    case restartScheduled(delay: Duration, restarts: Int)
    /// Too many restarts in the window: Lifeguard exits so the orchestrator takes over.
    case restartLimitReached(restarts: Int, window: Duration)
    /// The server kept dying during its start, never ready: `resurrect` runs on the datadir first.
    case resurrectBegan
    /// `resurrect` exited: resurrected (10, or 11 with losses) starts the server again; anything else
    /// hands the crash loop to the orchestrator.
    case resurrectEnded(status: TerminationStatus, resurrected: Bool)
    case exiting(code: Int32)
}

/// One thing for the loop to do. The state machine decides every one of them; the loop only
/// performs them (and reports back the results that are events: `spawned`, `spawnFailed`).
public enum Action: Equatable, Sendable {
    /// Start the command; the loop reports back with `spawned` or `spawnFailed`.
    case spawn
    /// Start `resurrect -- COMMAND` in its place (LIFEGUARD_ON_CORRUPTION=resurrect); reported back the same way.
    case spawnResurrect
    case signal(Signal, SignalTarget)
    /// A child runs: sample its memory from now on, with a fresh growth history.
    case startSampling
    /// No child to guard (a stop began, or it exited): no more samples until the next start.
    case stopSampling
    /// Watch for the new child to accept connections (sd_notify, else the handshake).
    case beginReadiness(pid: pid_t)
    /// Readiness is known, or the child is gone: stop watching.
    case endReadiness
    /// Read the kernel's OOM-kill counter now: a child just exited, and the log must say whether the
    /// kernel killed it before it says that it exited.
    case checkOOMKills
    case report(SupervisorEvent)
    /// Exit Lifeguard with this code; always the last action of a list.
    case exit(Int32)
}

/// A short list of actions stored inline: a transition never allocates, so the path from a memory
/// reading over the trigger to kill(2) can run when the container has no memory left to give.
public struct ActionList: RandomAccessCollection, Equatable, Sendable {
    /// The longest list a transition returns is 9 (the main child exits with orphans reaped, and the
    /// restart cap is reached); a test checks every transition against it.
    public static let capacity = 10
    private var storage: InlineArray<10, Action?> = .init(repeating: nil)
    public private(set) var count = 0

    public init() {}

    // Fixed arities rather than a variadic parameter: a variadic argument is a heap-allocated array (`Footprint`, rule 6).
    public init(_ first: Action) {
        append(first)
    }

    public init(_ first: Action, _ second: Action) {
        append(first)
        append(second)
    }

    public init(_ first: Action, _ second: Action, _ third: Action) {
        append(first)
        append(second)
        append(third)
    }

    public init(_ first: Action, _ second: Action, _ third: Action, _ fourth: Action) {
        append(first)
        append(second)
        append(third)
        append(fourth)
    }

    public mutating func append(_ action: Action) {
        precondition(count < ActionList.capacity, "ActionList overflow: a transition returned too many actions")
        storage[count] = action
        count += 1
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Action {
        precondition(position >= 0 && position < count, "ActionList index out of range")
        return storage[position]!
    }

    public static func == (lhs: ActionList, rhs: ActionList) -> Bool { lhs.elementsEqual(rhs) }
}
