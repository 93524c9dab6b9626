import Glibc
@testable import LifeguardCgroup
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// The loop's performer and the system calls under it, with the rare results forced through the
/// debug-build mock (`SystemCallMock`, this thread only): a child gone a moment before its signal
/// (ESRCH), a signal Lifeguard may not send (EPERM), calls interrupted by a stop and continue (EINTR).
@Suite("Performer: ESRCH, EPERM and EINTR forced")
struct PerformerTests {
    /// A loop supervising `sleep 30` (really spawned, killed at the end), logging at debug level into
    /// a file the test reads back.
    final class Fixture {
        let loop: SupervisorLoop
        let logPath = "/tmp/lifeguard-performer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        let logFile: FileDescriptor
        let pid: pid_t

        init(grace: Duration = .seconds(60)) throws {
            logFile = try FileDescriptor.open(logPath, O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
            let spawner = ChildSpawner(arguments: ["sleep", "30"], environment: ["PATH=/usr/bin:/bin"],
                                       signalState: SignalState(originalMask: SignalSet(), resetInChild: SignalSet(), blocked: SignalSet()))
            loop = SupervisorLoop(machine: Supervisor(settings: .init(gracePeriod: grace)), spawner: spawner,
                                  signals: try SignalChannel(watching: SignalSet()),
                                  logger: Logger(minimumLevel: .debug, output: logFile), isInit: false, memory: nil)
            loop.start()
            pid = try #require(loop.supervisor.childPID)
        }

        var log: String { (try? FileDescriptor.readText(logPath)) ?? "" }

        deinit {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            logFile.close()
            unlink(logPath)
        }
    }

    @Test("kill(2) says ESRCH (the child exited a moment ago): no error, a debug line")
    func signalToAGoneProcess() throws {
        let fixture = try Fixture()
        var calls: [SystemCall] = []
        SystemCallMock.with({ call in
            guard case .kill = call else { return nil }
            calls.append(call)
            return .failure(ESRCH)
        }) {
            fixture.loop.perform(ActionList(.signal(.user1, .process(fixture.pid))), now: .now())
        }
        #expect(calls == [.kill(pid: fixture.pid, signal: SIGUSR1)])
        #expect(fixture.log.contains(#"level=debug msg="signal not sent: the process has already exited" signal=SIGUSR1 pid=\#(fixture.pid)"#),
                "\(fixture.log)")
        #expect(!fixture.log.contains("level=warn"))
    }

    @Test("kill(2) says EPERM: a warning naming the signal, the target and the error")
    func signalNotPermitted() throws {
        let fixture = try Fixture()
        SystemCallMock.with({ call in
            if case .kill = call { return .failure(EPERM) }
            return nil
        }) {
            fixture.loop.perform(ActionList(.signal(.terminate, .processGroup(fixture.pid))), now: .now())
        }
        #expect(fixture.log.contains(#"level=warn msg="cannot send the signal" signal=SIGTERM error="Operation not permitted" pgid=\#(fixture.pid)"#),
                "\(fixture.log)")
    }

    @Test("waitpid(2) interrupted: retried in one place, and the exit is still found")
    func reapInterrupted() throws {
        var waits = 0
        let (reaped, noneLeft) = SystemCallMock.with({ call in
            guard case .waitpid = call else { return nil }
            waits += 1
            return waits <= 2 ? .failure(EINTR) : .failure(ECHILD)
        }) {
            Reaper.reapAvailable()
        }
        #expect(waits == 3, "two interrupted calls retried, then ECHILD")
        #expect(reaped.isEmpty && noneLeft)
    }

    @Test("ppoll(2) interrupted: the turn goes on with its timers (here the grace period's SIGKILL)")
    func pollInterrupted() throws {
        let fixture = try Fixture(grace: .milliseconds(10))
        var killed: [Int32] = []
        var polls = 0
        SystemCallMock.with({ call in
            switch call {
            case .kill(_, let signal):
                killed.append(signal)
                return .success()  // the sleep stays; the fixture kills it at the end
            case .ppoll:
                polls += 1
                return .failure(EINTR)
            default:
                return nil
            }
        }) {
            fixture.loop.perform(fixture.loop.machine.signalReceived(.terminate, now: .now()), now: .now())
            usleep(20_000)  // past the 10 ms grace period: the next turn's deadline is due
            fixture.loop.runOnce()
        }
        #expect(polls == 1)
        #expect(killed == [SIGTERM, SIGKILL], "SIGTERM at the stop, SIGKILL at the deadline despite EINTR")
        #expect(!fixture.log.contains("ppoll failed"), "EINTR is a wake-up, not a failure")
    }

    @Test("ppoll(2) failing for real: said once, supervision goes on, said again when it works")
    func pollFails() throws {
        let fixture = try Fixture()
        var fail = true
        SystemCallMock.with({ call in
            // Failing, then working (nothing ready at once, instead of a real wait for the next timer).
            if case .ppoll = call { return fail ? .failure(ENOMEM) : .success(0) }
            return nil
        }) {
            fixture.loop.runOnce()
            fixture.loop.runOnce()
            fail = false
            fixture.loop.runOnce()
        }
        #expect(fixture.log.split(separator: "\n").filter { $0.contains("ppoll failed") }.count == 1, "once: \(fixture.log)")
        #expect(fixture.log.contains("ppoll works again"))
    }

    @Test("the mock is this thread's alone: another thread's calls are real")
    func mockIsPerThread() throws {
        final class Outcome: @unchecked Sendable {
            var error: Errno?
            var finished = false
            let done = ConditionLock()
        }
        let outcome = Outcome()
        SystemCallMock.with({ _ in .failure(EPERM) }) {
            try? SystemThread.start(stackSize: 64 * 1024) {
                do throws(Errno) { try Processes.send(Signal(rawValue: 0), to: getpid()) } catch { outcome.error = error }
                outcome.done.withLock { outcome.finished = true }
                outcome.done.signal()
            }
            outcome.done.lock()
            while !outcome.finished { outcome.done.wait() }
            outcome.done.unlock()
        }
        #expect(outcome.error == nil, "signal 0 to ourselves, from another thread, really sent")
    }
}
