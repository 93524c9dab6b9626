@testable import LifeguardStatus
@testable import LifeguardSupervisor
import LifeguardSystem
import Testing

/// Readiness that stays true: the ping schedule, three unanswered in a row make the server
/// unresponsive, the next answer ready again; and the state machine's side of it.
@Suite("Readiness that stays true")
struct ResponseCheckTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)

    @Test("a ping every interval while answered; overdue after the timeout; nothing before begin or after end")
    func schedule() {
        var check = ResponseCheck(interval: .seconds(5), timeout: .seconds(2))
        #expect(!check.pingDue(now: t0 + .seconds(60)) && check.nextWake(canSend: true) == nil, "not begun")
        check.begin(now: t0)
        #expect(!check.pingDue(now: t0 + .seconds(4)) && check.pingDue(now: t0 + .seconds(5)))
        #expect(check.nextWake(canSend: true) == t0 + .seconds(5))
        #expect(check.nextWake(canSend: false) == nil, "while the link cannot send, its own retries wake the loop")
        check.pingSent(now: t0 + .seconds(5))
        #expect(!check.pingDue(now: t0 + .seconds(6)), "one ping at a time")
        #expect(check.nextWake(canSend: false) == t0 + .seconds(7))
        #expect(!check.pingOverdue(now: t0 + .seconds(6)) && check.pingOverdue(now: t0 + .seconds(7)))
        #expect(check.heard(now: t0 + .seconds(6)) == nil)
        #expect(!check.pingOverdue(now: t0 + .seconds(60)) && check.nextWake(canSend: true) == t0 + .seconds(11))
        check.end()
        #expect(check.nextWake(canSend: true) == nil && check.unheard("gone", now: t0) == nil)
    }

    @Test("three unanswered in a row: unresponsive, said once; an answer in between starts the count again; the next answer: answering")
    func transitions() {
        var check = ResponseCheck(failuresToUnready: 3)
        check.begin(now: t0)
        #expect(check.unheard("a", now: t0) == nil)
        #expect(check.unheard("b", now: t0) == nil)
        #expect(check.heard(now: t0) == nil)
        #expect(check.unheard("c", now: t0) == nil)
        #expect(check.unheard("d", now: t0) == nil)
        #expect(check.unheard("e", now: t0) == .unresponsive(failures: 3, reason: "e"))
        #expect(check.isUnresponsive)
        #expect(check.unheard("f", now: t0) == nil, "said once")
        #expect(check.heard(now: t0) == .answering)
        #expect(!check.isUnresponsive && check.failures == 0)
    }

    @Test("the state machine: ready → unresponsive → ready; never before ready, never while stopping; a new child starts ready-less")
    func machine() {
        var machine = Supervisor(settings: .init(gracePeriod: .seconds(60)))
        _ = machine.start(now: t0)
        _ = machine.spawned(pid: 42, now: t0)
        #expect(machine.serverUnresponsive(failures: 3, now: t0).isEmpty, "not ready yet: nothing to lose")
        _ = machine.readinessReached(.notify, now: t0)
        #expect(machine.serverUnresponsive(failures: 3, now: t0) == ActionList(.report(.unresponsive(failures: 3))))
        #expect(machine.serviceState == .unresponsive)
        #expect(machine.serverUnresponsive(failures: 4, now: t0).isEmpty)
        #expect(machine.serverAnswering(now: t0) == ActionList(.report(.answeringAgain)))
        #expect(machine.serviceState == .ready && machine.serverAnswering(now: t0).isEmpty)
        _ = machine.serverUnresponsive(failures: 3, now: t0)
        _ = machine.childNotifiedStopping(now: t0)
        #expect(machine.serviceState == .stopping)
        var fresh = Supervisor(settings: .init(gracePeriod: .seconds(60)))
        _ = fresh.start(now: t0)
        _ = fresh.spawned(pid: 42, now: t0)
        _ = fresh.readinessReached(.notify, now: t0)
        _ = fresh.serverUnresponsive(failures: 3, now: t0)
        _ = fresh.signalReceived(.terminate, now: t0)
        #expect(fresh.serviceState == .stopping && fresh.serverAnswering(now: t0).isEmpty)
    }

    @Test("the probe: unresponsive fails --ready and passes --live")
    func probe() {
        var status = Status()
        status.state = .unresponsive
        let (ready, live) = Self.probes(status, now: t0)
        #expect(!ready.passed && ready.message.hasPrefix("not ready"))
        #expect(live.passed)
    }

    /// `probe --ready` and `probe --live` on `status`, written fresh at `now`.
    static func probes(_ status: Status, now: MonotonicInstant) -> (ready: ProbeCommand.Verdict, live: ProbeCommand.Verdict) {
        var status = status
        status.updatedAt = WallClockTime(secondsSinceEpoch: 1_800_000_000)
        status.updatedMonotonic = now
        func verdict(_ mode: ProbeCommand.Mode) -> ProbeCommand.Verdict {
            ProbeCommand.verdict(text: status.json, path: "/s", mode: mode, maxAge: nil, currentBootID: nil, now: now, wallNow: status.updatedAt)
        }
        return (verdict(.ready), verdict(.live))
    }
}
