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
        #expect(machine.spawned(pid: pid, now: t0) == ActionList(.report(.childStarted(pid: pid, restarts: 0))))
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
        #expect(actions == ActionList(.signal(.terminate, .process(42)),
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
        #expect(actions == ActionList(.report(.childExited(pid: 42, status: .exited(0))),
                                      .report(.exiting(code: 0)), .exit(0)))
    }

    @Test("leftovers get SIGTERM, then SIGKILL at the grace period, then Lifeguard exits with the child's code")
    func drainingLeftovers() {
        var machine = running(grace: .seconds(5))
        let actions = machine.childrenReaped([ReapedProcess(pid: 42, status: .exited(3))], noChildrenLeft: false, now: t0)
        #expect(actions == ActionList(.report(.childExited(pid: 42, status: .exited(3))),
                                      .signal(.terminate, .remaining),
                                      .report(.remainingSignalled(.terminate, gracePeriod: .seconds(5)))))
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

    @Test("action lists hold their elements inline and refuse more than their capacity")
    func actionList() {
        var list = ActionList()
        for _ in 0..<ActionList.capacity { list.append(.spawn) }
        #expect(list.count == ActionList.capacity)
        #expect(Array(list) == Array(repeating: .spawn, count: ActionList.capacity))
    }
}
