import Glibc
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// Memory-triggered stops, restarts with backoff and the cap, as pure transitions.
@Suite("Memory stop and restarts")
struct RestartPolicyTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    let report = MemoryTriggerReport(reading: MemoryReading(usage: 250, inactiveFile: 0), trigger: 243, hardLimit: 256,
                                     reason: .reachedTrigger, growthRate: 1e6)

    func running(_ action: MemoryLimitAction = .restart, maxRestarts: Int = 3, pid: pid_t = 42) -> Supervisor {
        var machine = Supervisor(settings: .init(gracePeriod: .seconds(60), onMemoryLimit: action, maxRestarts: maxRestarts,
                                                 restartWindow: .seconds(600)))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: pid, now: t0)
        return machine
    }

    func exited(_ pid: pid_t, _ code: Int32 = 0) -> [ReapedProcess] { [ReapedProcess(pid: pid, status: .exited(code))] }

    @Test("the memory trigger starts the graceful stop, SIGTERM first")
    func memoryStop() {
        var machine = running()
        let actions = machine.memoryLimitReached(report, now: t0)
        #expect(actions.first == .signal(.terminate, .process(42)))
        #expect(actions == ActionList(.signal(.terminate, .process(42)), .stopSampling,
                                      .report(.stopBegan(.memory(report), pid: 42, gracePeriod: .seconds(60)))))
        #expect(machine.nextDeadline == t0 + .seconds(60))
        // A second trigger while stopping does nothing.
        #expect(machine.memoryLimitReached(report, now: t0).isEmpty)
    }

    @Test("exit policy: exit 75 after the child is gone, whatever its code")
    func exitPolicy() {
        var machine = running(.exit)
        _ = machine.memoryLimitReached(report, now: t0)
        let actions = machine.childrenReaped(exited(42, 0), noChildrenLeft: true, now: t0 + .seconds(1))
        #expect(actions.last == .exit(Supervisor.memoryExitCode))
        #expect(Supervisor.memoryExitCode == 75)
    }

    @Test("restart policy: at once the first time, then backoff, then exit 75 at the cap")
    func restartsWithBackoffAndCap() {
        var machine = running(maxRestarts: 3)
        var now = t0
        var pid: pid_t = 42
        // First stop: restart at once.
        _ = machine.memoryLimitReached(report, now: now)
        var actions = machine.childrenReaped(exited(pid), noChildrenLeft: true, now: now)
        var expected = ActionList(.checkOOMKills, .stopSampling, .endReadiness, .report(.childExited(pid: pid, status: .exited(0))))
        expected.append(.report(.restartScheduled(delay: .zero, restarts: 1)))
        expected.append(.spawn)
        #expect(actions == expected)
        pid += 1
        _ = machine.spawned(pid: pid, now: now)
        #expect(machine.restarts == 1)
        // Second: 1 s of backoff.
        now = now + .seconds(5)
        _ = machine.memoryLimitReached(report, now: now)
        actions = machine.childrenReaped(exited(pid), noChildrenLeft: true, now: now)
        #expect(actions.last == .report(.restartScheduled(delay: .seconds(1), restarts: 2)))
        #expect(machine.phase == .restarting(at: now + .seconds(1)))
        #expect(machine.deadlineReached(now: now + .milliseconds(999)).isEmpty)
        #expect(machine.deadlineReached(now: now + .seconds(1)) == ActionList(.spawn))
        pid += 1
        _ = machine.spawned(pid: pid, now: now + .seconds(1))
        // Third: 2 s.
        now = now + .seconds(10)
        _ = machine.memoryLimitReached(report, now: now)
        actions = machine.childrenReaped(exited(pid), noChildrenLeft: true, now: now)
        #expect(actions.last == .report(.restartScheduled(delay: .seconds(2), restarts: 3)))
        _ = machine.deadlineReached(now: now + .seconds(2))
        pid += 1
        _ = machine.spawned(pid: pid, now: now + .seconds(2))
        // Fourth within the window: the cap.
        now = now + .seconds(10)
        _ = machine.memoryLimitReached(report, now: now)
        actions = machine.childrenReaped(exited(pid), noChildrenLeft: true, now: now)
        #expect(actions.contains(.report(.restartLimitReached(restarts: 3, window: .seconds(600)))))
        #expect(actions.last == .exit(75))
    }

    @Test("restarts outside the window are forgotten")
    func windowForgets() {
        var machine = running(maxRestarts: 1)
        _ = machine.memoryLimitReached(report, now: t0)
        _ = machine.childrenReaped(exited(42), noChildrenLeft: true, now: t0)
        _ = machine.spawned(pid: 43, now: t0)
        let later = t0 + .seconds(601)
        _ = machine.memoryLimitReached(report, now: later)
        let actions = machine.childrenReaped(exited(43), noChildrenLeft: true, now: later)
        #expect(actions.last == .spawn)
        #expect(machine.restarts == 2)
    }

    @Test("backoff doubles up to 30 s")
    func backoff() {
        #expect((0...8).map { Supervisor.backoff(afterRestarts: $0) } ==
                [.zero, .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30), .seconds(30)])
    }

    @Test("SIGTERM during a memory-triggered stop: forwarded, and Lifeguard exits instead of restarting")
    func termDuringMemoryStop() {
        var machine = running()
        _ = machine.memoryLimitReached(report, now: t0)
        #expect(machine.signalReceived(.terminate, now: t0).first == .signal(.terminate, .process(42)))
        #expect(machine.nextDeadline == t0 + .seconds(60))
        let actions = machine.childrenReaped(exited(42, 0), noChildrenLeft: true, now: t0)
        #expect(actions.last == .exit(0))
    }

    @Test("SIGTERM during the backoff exits at once with the last child's code")
    func termDuringBackoff() {
        var machine = running()
        _ = machine.memoryLimitReached(report, now: t0)
        _ = machine.childrenReaped(exited(42), noChildrenLeft: true, now: t0)
        _ = machine.spawned(pid: 43, now: t0)
        _ = machine.memoryLimitReached(report, now: t0)
        _ = machine.childrenReaped(exited(43, 0), noChildrenLeft: true, now: t0)
        guard case .restarting = machine.phase else {
            Issue.record("not in backoff: \(machine.phase)")
            return
        }
        #expect(machine.signalReceived(.terminate, now: t0).last == .exit(0))
    }

    @Test("a child that exits on its own is not restarted")
    func crashIsNotRestarted() {
        var machine = running()
        #expect(machine.childrenReaped(exited(42, 1), noChildrenLeft: true, now: t0).last == .exit(1))
    }

    @Test("leftovers are drained before the restart")
    func drainBeforeRestart() {
        var machine = running()
        _ = machine.memoryLimitReached(report, now: t0)
        let actions = machine.childrenReaped(exited(42), noChildrenLeft: false, now: t0)
        #expect(actions.contains(.signal(.terminate, .remaining)))
        #expect(machine.childrenReaped([], noChildrenLeft: true, now: t0 + .seconds(1)).last == .spawn)
    }
}
