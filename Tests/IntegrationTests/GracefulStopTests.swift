import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

@Suite("Graceful stop and signal state", .needs(Prerequisites.isRoot, Prerequisites.rootReason))
struct GracefulStopTests {
    @Test("SIGTERM to a child that ignores it: SIGKILL after the grace period, not before", arguments: SupervisorMode.allCases)
    func killAfterGracePeriod(mode: SupervisorMode) throws {
        let lifeguard = try Supervised(mode, ["--grace-period", "1.5", helper, "ignore-term"])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        let start = MonotonicInstant.now()
        lifeguard.send(SIGTERM)
        // Still alive well inside the grace period.
        Thread.sleep(forTimeInterval: 1.0)
        #expect(lifeguard.process.checkExit() == nil, "killed before the grace period ended")
        #expect(lifeguard.exitCode() == 137)
        let elapsed = seconds(since: start)
        // Not before the grace period; after it, only scheduling delays the SIGKILL (the loop wakes at the
        // deadline): 1.5 s of slack for a loaded 2-CPU machine.
        #expect(elapsed >= 1.5 && elapsed < 3.0, "elapsed \(elapsed)")
        #expect(lifeguard.stderr.contains("grace period over: SIGKILL sent"))
    }

    @Test("the grace period ends the moment the child exits", arguments: SupervisorMode.allCases)
    func stopEndsWhenChildExits(mode: SupervisorMode) throws {
        let lifeguard = try Supervised(mode, ["--grace-period", "30", helper, "print-signals"])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        let start = MonotonicInstant.now()
        lifeguard.send(SIGTERM)
        #expect(lifeguard.exitCode() == 143)
        // The child exits at its SIGTERM; the grace period is 30 s. 5 s tells the two apart on any machine.
        #expect(seconds(since: start) < 5)
        #expect(lifeguard.stderr.contains(#"msg="graceful stop: SIGTERM sent""#))
    }

    @Test("a second stop signal is forwarded again and does not move the deadline")
    func secondStopSignal() throws {
        let lifeguard = try Supervised(.pid1, ["--grace-period", "30", helper, "print-signals", "2"])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        lifeguard.send(SIGTERM)
        #expect(lifeguard.nextLine() == "signal \(SIGTERM)")
        lifeguard.send(SIGTERM)
        #expect(lifeguard.nextLine() == "signal \(SIGTERM)")
        #expect(lifeguard.exitCode() == 143)
    }

    @Test("the child starts with an empty mask and default dispositions", arguments: SupervisorMode.allCases)
    func defaultSignalState(mode: SupervisorMode) throws {
        // Lifeguard is started with every signal at its default action (as a container runtime does);
        // it blocks all of them and ignores four for itself: the child must see none of that.
        let cleanStart = [helper, "exec-with-sigstate", "-", "-"]
        let result: (code: Int32?, stdout: String, stderr: String)
        switch mode {
        case .pid1:
            result = try runLifeguard(.subreaper, ["--log-level=error", "unshare", "--pid", "--fork", "--mount-proc"]
                                      + cleanStart + [Binaries.lifeguard, "cat", "/proc/self/status"])
        case .subreaper:
            result = try runLifeguard(.subreaper, ["--log-level=error"] + cleanStart
                                      + [Binaries.lifeguard, "cat", "/proc/self/status"])
        }
        #expect(result.code == 0)
        #expect(result.stdout.contains("SigBlk:\t0000000000000000"))
        #expect(result.stdout.contains("SigIgn:\t0000000000000000"))
    }

    @Test("the child gets back the signal state Lifeguard was started with")
    func transparentSignalState() throws {
        // Started with SIGUSR1 (10) ignored and SIGHUP (1) blocked: the child sees exactly that, and none
        // of what Lifeguard did to itself (all signals blocked, TTIN/TTOU/PIPE/XFSZ ignored).
        let result = try runLifeguard(.subreaper, [helper, "exec-with-sigstate", "10", "1", Binaries.lifeguard, "cat", "/proc/self/status"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("SigBlk:\t0000000000000001"))
        #expect(result.stdout.contains("SigIgn:\t0000000000000200"))
    }
}
