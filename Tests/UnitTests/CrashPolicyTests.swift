import Glibc
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// Crashes (the command killed by a signal Lifeguard did not send), as pure transitions.
@Suite("Crash policy")
struct CrashPolicyTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)

    func running(_ onCrash: CrashAction, maxRestarts: Int = 2, pid: pid_t = 42) -> Supervisor {
        var machine = Supervisor(settings: .init(gracePeriod: .seconds(60), onCrash: onCrash, maxRestarts: maxRestarts))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: pid, now: t0)
        return machine
    }

    func killed(_ pid: pid_t, by signal: Signal) -> [ReapedProcess] { [ReapedProcess(pid: pid, status: .signaled(signal, coreDumped: false))] }

    @Test("by default a crash exits with 128+N, like any init")
    func exitByDefault() {
        var machine = running(.exit)
        let actions = machine.childrenReaped(killed(42, by: Signal(rawValue: SIGSEGV)), noChildrenLeft: true, now: t0)
        #expect(actions.last == .exit(128 + SIGSEGV))
    }

    @Test("restart: backoff between crashes, then exit with the crash's code at the cap")
    func crashLoop() {
        var machine = running(.restart, maxRestarts: 2)
        var now = t0
        var pid: pid_t = 42
        var actions = machine.childrenReaped(killed(pid, by: Signal(rawValue: SIGABRT)), noChildrenLeft: true, now: now)
        var expected = ActionList(.checkOOMKills, .stopSampling, .endReadiness,
                                  .report(.childExited(pid: pid, status: .signaled(Signal(rawValue: SIGABRT), coreDumped: false))))
        expected.append(.report(.crashed(Signal(rawValue: SIGABRT))))
        expected.append(.report(.restartScheduled(delay: .zero, restarts: 1)))
        expected.append(.spawn)
        #expect(actions == expected)
        pid += 1
        _ = machine.spawned(pid: pid, now: now)
        now = now + .milliseconds(100)
        actions = machine.childrenReaped(killed(pid, by: .kill), noChildrenLeft: true, now: now)
        #expect(actions.last == .report(.restartScheduled(delay: .seconds(1), restarts: 2)))
        #expect(machine.serviceState == .restarting)
        actions = machine.deadlineReached(now: now + .seconds(1))
        #expect(actions.last == .spawn)
        pid += 1
        _ = machine.spawned(pid: pid, now: now + .seconds(1))
        actions = machine.childrenReaped(killed(pid, by: Signal(rawValue: SIGSEGV)), noChildrenLeft: true, now: now + .seconds(2))
        #expect(actions.contains(.report(.restartLimitReached(restarts: 2, window: .seconds(600)))))
        #expect(actions.last == .exit(128 + SIGSEGV))
    }

    @Test("a signal Lifeguard forwarded, or its own SIGKILL after the grace period, is not a crash")
    func signalsLifeguardSentAreNotCrashes() {
        var machine = running(.restart)
        _ = machine.signalReceived(Signal(rawValue: SIGUSR1), now: t0)
        var actions = machine.childrenReaped(killed(42, by: Signal(rawValue: SIGUSR1)), noChildrenLeft: true, now: t0)
        #expect(actions.last == .exit(128 + SIGUSR1))

        machine = running(.restart)
        _ = machine.signalReceived(.terminate, now: t0)
        _ = machine.deadlineReached(now: t0 + .seconds(60))
        actions = machine.childrenReaped(killed(42, by: .kill), noChildrenLeft: true, now: t0 + .seconds(60))
        #expect(actions.last == .exit(128 + SIGKILL))
    }

    @Test("a new child starts with a clean record of signals sent")
    func recordResetsPerChild() {
        var machine = running(.restart, maxRestarts: 5)
        _ = machine.signalReceived(Signal(rawValue: SIGHUP), now: t0)
        // The first child crashes with SIGSEGV (not sent): restarted.
        var actions = machine.childrenReaped(killed(42, by: Signal(rawValue: SIGSEGV)), noChildrenLeft: true, now: t0)
        #expect(actions.last == .spawn)
        _ = machine.spawned(pid: 43, now: t0)
        // The second dies of SIGHUP, which was sent to the first one only: a crash.
        actions = machine.childrenReaped(killed(43, by: Signal(rawValue: SIGHUP)), noChildrenLeft: true, now: t0 + .seconds(1))
        #expect(actions.contains(.report(.crashed(Signal(rawValue: SIGHUP)))))
    }

    @Test("a crash while Lifeguard itself is stopping is an exit")
    func crashDuringRequestedStop() {
        var machine = running(.restart)
        _ = machine.signalReceived(.terminate, now: t0)
        let actions = machine.childrenReaped(killed(42, by: Signal(rawValue: SIGSEGV)), noChildrenLeft: true, now: t0)
        #expect(actions.last == .exit(128 + SIGSEGV))
    }
}
