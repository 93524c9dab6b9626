import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

/// dumb-init's and tini's signal tests, run against the real binary as PID 1 and as a subreaper.
@Suite("Signal forwarding", .needs(Prerequisites.isRoot, Prerequisites.rootReason))
struct SignalForwardingTests {
    /// The catchable signals the issue names, plus the rest of 1–31 that mean nothing special to an
    /// init, and real-time signals at both ends and in the middle.
    static let forwarded: [Int32] = {
        let rtmin = __libc_current_sigrtmin()
        let rtmax = __libc_current_sigrtmax()
        return [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGURG, SIGTSTP,
                SIGVTALRM, SIGPROF, SIGPWR, SIGIO, SIGXCPU, SIGSTKFLT, rtmin, rtmin + 1, (rtmin + rtmax) / 2,
                rtmax - 1, rtmax]
    }()

    @Test("every forwarded signal reaches the child, SIGTERM last gives 143", arguments: SupervisorMode.allCases)
    func everySignalReachesTheChild(mode: SupervisorMode) throws {
        let lifeguard = try Supervised(mode, [helper, "print-signals"])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        for signal in Self.forwarded {
            lifeguard.send(signal)
            #expect(lifeguard.nextLine() == "signal \(signal)", "signal \(signal) was not forwarded")
        }
        lifeguard.send(SIGTERM)
        #expect(lifeguard.nextLine() == "signal \(SIGTERM)")
        #expect(lifeguard.exitCode() == 143)
    }

    @Test("SIGTTIN, SIGTTOU and SIGCHLD are not forwarded", arguments: SupervisorMode.allCases)
    func terminalAndChildSignalsAreNotForwarded(mode: SupervisorMode) throws {
        let lifeguard = try Supervised(mode, [helper, "print-signals"])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        for signal in [SIGTTIN, SIGTTOU, SIGCHLD] { lifeguard.send(signal) }
        lifeguard.send(SIGUSR1)  // a marker: the next line must be this one
        #expect(lifeguard.nextLine() == "signal \(SIGUSR1)")
        lifeguard.send(SIGTERM)
        #expect(lifeguard.exitCode() == 143)
    }

    @Test("with --process-group every process of the child's group gets the signal", arguments: SupervisorMode.allCases)
    func processGroupTarget(mode: SupervisorMode) throws {
        // The child (exec'd by sh) and a background sibling share the child's process group.
        let script = "\"$0\" print-signals & exec \"$0\" print-signals"
        let lifeguard = try Supervised(mode, ["--process-group", "sh", "-c", script, helper])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        lifeguard.send(SIGUSR2)
        #expect(lifeguard.nextLine() == "signal \(SIGUSR2)")
        #expect(lifeguard.nextLine() == "signal \(SIGUSR2)")
        lifeguard.send(SIGTERM)
        #expect(lifeguard.exitCode() == 143)
    }

    @Test("without --process-group only the child gets the signal")
    func childOnlyTarget() throws {
        let script = "\"$0\" print-signals & exec \"$0\" print-signals"
        let lifeguard = try Supervised(.pid1, ["sh", "-c", script, helper])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        lifeguard.send(SIGUSR2)
        #expect(lifeguard.nextLine() == "signal \(SIGUSR2)")
        #expect(lifeguard.nextLine(timeout: .milliseconds(500)) == nil, "the sibling must not get the signal")
        lifeguard.send(SIGTERM)
        // The child dies of SIGTERM; the sibling gets SIGTERM as a leftover (and prints it).
        #expect(lifeguard.exitCode() == 143)
    }

    @Test("a child killed by signal N gives 128+N", arguments: [SIGHUP, SIGINT, SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM])
    func signalDeathExitCode(signal: Int32) throws {
        for mode in SupervisorMode.allCases {
            let result = try runLifeguard(mode, [helper, "signal-self", String(signal)])
            #expect(result.code == 128 + signal, "\(mode): \(result.stderr)")
        }
    }
}
