import Glibc
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// The state machine, event by event, without a single process.
@Suite("Supervisor state machine")
struct SupervisorTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)

    func running(grace: Duration = .seconds(60), group: Bool = false, pid: pid_t = 42) -> Supervisor {
        var machine = Supervisor(settings: .init(gracePeriod: grace, signalProcessGroup: group))
        #expect(machine.start(now: t0) == ActionList(.spawn))
        #expect(machine.spawned(pid: pid, now: t0) == ActionList(.startSampling, .beginReadiness(pid: pid),
                                                                  .report(.childStarted(pid: pid, restarts: 0))))
        return machine
    }

    @Test("signals are forwarded to the child, or its group")
    func forwarding() {
        var machine = running()
        #expect(machine.signalReceived(.user1, now: t0) == ActionList(
            .signal(.user1, .process(42)), .report(.signalForwarded(.user1, .process(42)))))
        var grouped = running(group: true)
        #expect(grouped.signalReceived(.hangup, now: t0).first == .signal(.hangup, .processGroup(42)))
        #expect(machine.nextDeadline == nil)
    }

    @Test("SIGTERM starts the graceful stop; SIGKILL at the deadline, not before")
    func gracefulStop() {
        var machine = running(grace: .seconds(10))
        let actions = machine.signalReceived(.terminate, now: t0)
        #expect(actions == ActionList(.signal(.terminate, .process(42)), .stopSampling,
                                      .report(.stopBegan(.signal(.terminate), pid: 42, gracePeriod: .seconds(10)))))
        #expect(machine.nextDeadline == t0 + .seconds(10))
        #expect(machine.deadlineReached(now: t0 + .seconds(9)).isEmpty)
        #expect(machine.deadlineReached(now: t0 + .seconds(10)) == ActionList(
            .signal(.kill, .process(42)), .report(.gracePeriodExpired(pid: 42, gracePeriod: .seconds(10)))))
        #expect(machine.nextDeadline == nil)  // SIGKILL is sent once
        let exit = machine.childrenReaped([ReapedProcess(pid: 42, status: .signaled(.kill, coreDumped: false))],
                                          noChildrenLeft: true, now: t0 + .seconds(10))
        #expect(exit.last == .exit(137))
        #expect(machine.phase == .exited(code: 137))
    }

    @Test("a second SIGTERM is forwarded and keeps the deadline")
    func secondTerm() {
        var machine = running(grace: .seconds(10))
        _ = machine.signalReceived(.terminate, now: t0)
        #expect(machine.signalReceived(.terminate, now: t0 + .seconds(3)).first == .signal(.terminate, .process(42)))
        #expect(machine.nextDeadline == t0 + .seconds(10))
    }

    @Test("the child exiting ends the stop at once, with its exit code")
    func childExitsDuringStop() {
        var machine = running()
        _ = machine.signalReceived(.terminate, now: t0)
        let actions = machine.childrenReaped([ReapedProcess(pid: 42, status: .exited(0))], noChildrenLeft: true,
                                             now: t0 + .milliseconds(200))
        var expected = ActionList(.checkOOMKills, .stopSampling, .endReadiness, .report(.childExited(pid: 42, status: .exited(0))))
        expected.append(.report(.exiting(code: 0)))
        expected.append(.exit(0))
        #expect(actions == expected)
    }

    @Test("leftovers get SIGTERM, then SIGKILL at the grace period, then Lifeguard exits with the child's code")
    func drainingLeftovers() {
        var machine = running(grace: .seconds(5))
        let actions = machine.childrenReaped([ReapedProcess(pid: 42, status: .exited(3))], noChildrenLeft: false, now: t0)
        var expected = ActionList(.checkOOMKills, .stopSampling, .endReadiness, .report(.childExited(pid: 42, status: .exited(3))))
        expected.append(.signal(.terminate, .remaining))
        expected.append(.report(.remainingSignalled(.terminate, gracePeriod: .seconds(5))))
        #expect(actions == expected)
        #expect(machine.nextDeadline == t0 + .seconds(5))
        // An orphan exits; another remains.
        #expect(machine.childrenReaped([ReapedProcess(pid: 50, status: .exited(0))], noChildrenLeft: false, now: t0 + .seconds(1))
                == ActionList(.report(.orphansReaped(count: 1))))
        #expect(machine.deadlineReached(now: t0 + .seconds(5)) == ActionList(.signal(.kill, .remaining), .report(.remainingKilled)))
        let done = machine.childrenReaped([ReapedProcess(pid: 51, status: .signaled(.kill, coreDumped: false))],
                                          noChildrenLeft: true, now: t0 + .seconds(5))
        #expect(done.last == .exit(3))
    }

    @Test("leftovers that survive SIGKILL are abandoned after a short wait")
    func abandonedLeftovers() {
        var machine = running(grace: .seconds(5))
        _ = machine.childrenReaped([ReapedProcess(pid: 42, status: .exited(4))], noChildrenLeft: false, now: t0)
        _ = machine.deadlineReached(now: t0 + .seconds(5))
        let deadline = machine.nextDeadline
        #expect(deadline == t0 + .seconds(7))
        let actions = machine.deadlineReached(now: t0 + .seconds(7))
        #expect(actions == ActionList(.report(.remainingAbandoned), .report(.exiting(code: 4)), .exit(4)))
    }

    @Test("the leftovers' wait ends as soon as none remain")
    func drainingEndsEarly() {
        var machine = running(grace: .seconds(60))
        _ = machine.childrenReaped([ReapedProcess(pid: 42, status: .exited(0))], noChildrenLeft: false, now: t0)
        let actions = machine.childrenReaped([], noChildrenLeft: true, now: t0 + .milliseconds(300))
        #expect(actions.last == .exit(0))
    }

    @Test("signals during draining go to the leftovers")
    func signalsWhileDraining() {
        var machine = running()
        _ = machine.childrenReaped([ReapedProcess(pid: 42, status: .exited(0))], noChildrenLeft: false, now: t0)
        #expect(machine.signalReceived(.terminate, now: t0).first == .signal(.terminate, .remaining))
    }

    @Test("orphans reaped while the child runs change nothing")
    func orphansWhileRunning() {
        var machine = running()
        let actions = machine.childrenReaped((100..<150).map { ReapedProcess(pid: $0, status: .exited(0)) },
                                             noChildrenLeft: false, now: t0)
        #expect(actions == ActionList(.report(.orphansReaped(count: 50))))
        #expect(machine.phase == .running(pid: 42))
    }

    @Test("the main child and orphans reaped together")
    func coalesced() {
        var machine = running()
        let actions = machine.childrenReaped([ReapedProcess(pid: 7, status: .exited(0)), ReapedProcess(pid: 42, status: .exited(9)),
                                              ReapedProcess(pid: 8, status: .exited(0))], noChildrenLeft: true, now: t0)
        #expect(actions.last == .exit(9))
    }

    @Test("exec failure exits with 127/126")
    func spawnFailure() {
        var machine = Supervisor(settings: .init())
        _ = machine.start(now: t0)
        let error = SpawnError.execFailed(command: "mysqld", Errno(rawValue: ENOENT))
        #expect(machine.spawnFailed(error, now: t0) == ActionList(.report(.spawnFailed(error)), .report(.exiting(code: 127)), .exit(127)))
    }

    @Test("the lifecycle is the machine's: sampling and readiness start with a child, stop with its stop or exit, OOM kills are checked at each exit")
    func lifecycleActions() {
        var machine = running(pid: 42)
        #expect(machine.readinessReached(.notify, now: t0) == ActionList(.endReadiness, .report(.ready(.notify))))
        // A stop ends the sampling right after the SIGTERM; the exit checks the kernel's counter first.
        #expect(machine.signalReceived(.terminate, now: t0).prefix(2).elementsEqual([.signal(.terminate, .process(42)), .stopSampling]))
        let exit = machine.childrenReaped([ReapedProcess(pid: 42, status: .signaled(.kill, coreDumped: false))], noChildrenLeft: true,
                                          now: t0)
        #expect(exit.prefix(4).elementsEqual([.checkOOMKills, .stopSampling, .endReadiness,
                                              .report(.childExited(pid: 42, status: .signaled(.kill, coreDumped: false)))]))
        // A child that exits by itself while running: the same.
        var alone = running(pid: 7)
        #expect(alone.childrenReaped([ReapedProcess(pid: 7, status: .exited(1))], noChildrenLeft: true, now: t0)
            .prefix(3).elementsEqual([.checkOOMKills, .stopSampling, .endReadiness]))
    }

    @Test("the longest transition (a crash with orphans at the restart cap) fits the inline list")
    func longestTransition() {
        var machine = Supervisor(settings: .init(onCrash: .restart, maxRestarts: 1))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 1, now: t0)
        _ = machine.childrenReaped([ReapedProcess(pid: 1, status: .signaled(.abort, coreDumped: false))], noChildrenLeft: true, now: t0)
        _ = machine.spawned(pid: 2, now: t0)
        let actions = machine.childrenReaped([ReapedProcess(pid: 9, status: .exited(0)),
                                              ReapedProcess(pid: 2, status: .signaled(.abort, coreDumped: false))],
                                             noChildrenLeft: true, now: t0)
        #expect(actions.count == 9 && actions.count <= ActionList.capacity)
        #expect(actions.last == .exit(128 + SIGABRT))
    }

    @Test("action lists hold their elements inline and refuse more than their capacity")
    func actionList() {
        var list = ActionList()
        for _ in 0..<ActionList.capacity { list.append(.spawn) }
        #expect(list.count == ActionList.capacity)
        #expect(Array(list) == Array(repeating: .spawn, count: ActionList.capacity))
    }
}
