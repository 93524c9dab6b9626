import Glibc
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// LIFEGUARD_ON_CORRUPTION=resurrect, as pure transitions: a server that keeps dying during its start
/// gets one resurrect before the crash loop goes to the orchestrator.
@Suite("Corruption policy")
struct ResurrectPolicyTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    let abort = TerminationStatus.signaled(Signal(rawValue: SIGABRT), coreDumped: false)

    func running(_ onCorruption: CorruptionAction, onCrash: CrashAction = .restart, maxRestarts: Int = 2) -> Supervisor {
        var machine = Supervisor(settings: .init(gracePeriod: .seconds(60), onCrash: onCrash, onCorruption: onCorruption,
                                                 maxRestarts: maxRestarts, restartWindow: .seconds(600)))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 100, now: t0)
        return machine
    }

    /// Each child dies with `status` (ready first when `ready`) until the machine stops restarting;
    /// the actions of the last exit, and the time it happened.
    func dieUntilCap(_ machine: inout Supervisor, _ status: TerminationStatus, ready: Bool = false,
                     from start: MonotonicInstant? = nil) -> (ActionList, MonotonicInstant) {
        var now = start ?? t0
        var pid = machine.childPID ?? 100
        while true {
            if ready { _ = machine.readinessReached(.notify, now: now) }
            now = now + .seconds(1)
            var actions = machine.childrenReaped([ReapedProcess(pid: pid, status: status)], noChildrenLeft: true, now: now)
            if case .restarting = machine.phase {
                now = now + .seconds(40)
                actions = machine.deadlineReached(now: now)
            }
            guard actions.last == .spawn else { return (actions, now) }
            pid += 1
            _ = machine.spawned(pid: pid, now: now)
        }
    }

    @Test("a crash loop that never became ready: resurrect at the cap instead of the exit, not probed, live")
    func resurrectAtTheCap() {
        var machine = running(.resurrect)
        let (actions, now) = dieUntilCap(&machine, abort)
        #expect(actions.suffix(2).elementsEqual([.report(.resurrectBegan), .spawnResurrect]), "\(Array(actions))")
        #expect(!actions.contains(.report(.restartLimitReached(restarts: 2, window: .seconds(600)))))
        #expect(machine.resurrecting)
        let started = machine.spawned(pid: 500, now: now)
        #expect(started == ActionList(.startSampling, .report(.childStarted(pid: 500, restarts: 2))))
        #expect(machine.serviceState == .resurrecting)
        // resurrect replaced the datadir: the server again, at once, with a whole cap.
        let after = machine.childrenReaped([ReapedProcess(pid: 500, status: .exited(11))], noChildrenLeft: true, now: now + .seconds(60))
        #expect(after.contains(.report(.resurrectEnded(status: .exited(11), resurrected: true))))
        #expect(after.suffix(2).elementsEqual([.report(.restartScheduled(delay: .zero, restarts: 3)), .spawn]))
        #expect(!machine.resurrecting)
        _ = machine.spawned(pid: 501, now: now + .seconds(60))
        #expect(machine.serviceState == .starting)
        let ready = machine.readinessReached(.notify, now: now + .seconds(61))
        #expect(ready.contains(.report(.ready(.notify))))
    }

    @Test("resurrect found nothing to do, or could not: exit with the crash loop's own code")
    func resurrectReplacedNothing() {
        for code: Int32 in [0, 1, 143] {
            var machine = running(.resurrect)
            let (_, now) = dieUntilCap(&machine, abort)
            _ = machine.spawned(pid: 500, now: now)
            let after = machine.childrenReaped([ReapedProcess(pid: 500, status: .exited(code))], noChildrenLeft: true, now: now + .seconds(5))
            #expect(after.contains(.report(.resurrectEnded(status: .exited(code), resurrected: false))))
            #expect(after.last == .exit(128 + SIGABRT), "resurrect exit \(code)")
        }
    }

    @Test("once only: a second crash loop after a resurrect goes to the orchestrator")
    func onceOnly() {
        var machine = running(.resurrect)
        var (_, now) = dieUntilCap(&machine, abort)
        _ = machine.spawned(pid: 500, now: now)
        _ = machine.childrenReaped([ReapedProcess(pid: 500, status: .exited(10))], noChildrenLeft: true, now: now)
        _ = machine.spawned(pid: 501, now: now)
        let actions: ActionList
        (actions, now) = dieUntilCap(&machine, abort, from: now)
        #expect(actions.contains(.report(.restartLimitReached(restarts: 2, window: .seconds(600)))))
        #expect(actions.last == .exit(128 + SIGABRT))
    }

    @Test("a server that became ready during the loop is not corrupt: the usual exit at the cap")
    func readyMeansNotCorrupt() {
        var machine = running(.resurrect)
        let (actions, _) = dieUntilCap(&machine, abort, ready: true)
        #expect(!actions.contains(.spawnResurrect))
        #expect(actions.last == .exit(128 + SIGABRT))
    }

    @Test("dying with a non-zero code before ready is a crash loop when resurrect is on, an exit otherwise")
    func exitBeforeReady() {
        var on = running(.resurrect, onCrash: .exit)
        let (actions, _) = dieUntilCap(&on, .exited(1))
        #expect(actions.last == .spawnResurrect)
        var off = running(.exit)
        let first = off.childrenReaped([ReapedProcess(pid: 100, status: .exited(1))], noChildrenLeft: true, now: t0)
        #expect(first.last == .exit(1))
        // Exit 0 is never a crash, and after readiness an exit is the server's own business.
        var clean = running(.resurrect)
        #expect(clean.childrenReaped([ReapedProcess(pid: 100, status: .exited(0))], noChildrenLeft: true, now: t0).last == .exit(0))
        var readyThenExit = running(.resurrect)
        _ = readyThenExit.readinessReached(.notify, now: t0)
        #expect(readyThenExit.childrenReaped([ReapedProcess(pid: 100, status: .exited(1))], noChildrenLeft: true, now: t0).last == .exit(1))
    }

    @Test("a stop asked during the resurrect ends Lifeguard with resurrect's code; a resurrect that cannot start, with the crash's")
    func stopAndSpawnFailure() {
        var machine = running(.resurrect)
        var (_, now) = dieUntilCap(&machine, abort)
        _ = machine.spawned(pid: 500, now: now)
        let stop = machine.signalReceived(.terminate, now: now)
        #expect(stop.first == .signal(.terminate, .process(500)))
        now = now + .seconds(3)
        #expect(machine.childrenReaped([ReapedProcess(pid: 500, status: .exited(143))], noChildrenLeft: true, now: now).last == .exit(143))

        var missing = running(.resurrect)
        (_, now) = dieUntilCap(&missing, abort)
        let failed = missing.spawnFailed(.execFailed(command: "resurrect", Errno(rawValue: ENOENT)), now: now)
        #expect(failed.last == .exit(128 + SIGABRT))
    }
}
