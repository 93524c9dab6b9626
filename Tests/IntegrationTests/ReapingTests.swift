import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

@Suite("Reaping and leftovers", .needs(Prerequisites.isRoot, Prerequisites.rootReason))
struct ReapingTests {
    @Test("100 orphans are reaped and no zombie remains", arguments: SupervisorMode.allCases)
    func hundredOrphans(mode: SupervisorMode) throws {
        // The orphans exit after 0.2 s and the child looks for zombies 0.35 s later: a reaper that
        // polled once a second (tini) would still hold some; an event-driven one holds none.
        let lifeguard = try Supervised(mode, [helper, "orphans", "100", "0.2", "0.55"])
        #expect(lifeguard.nextLine() == "orphans 100")
        #expect(lifeguard.nextLine() == "zombies 0 children 0")
        #expect(lifeguard.exitCode() == 0)
    }

    @Test("the main child's exit is seen even when many SIGCHLDs coalesce", arguments: SupervisorMode.allCases)
    func coalescedChildSignals(mode: SupervisorMode) throws {
        for _ in 0..<5 {
            let script = "for i in $(seq 60); do \"$0\" exit 0 & done; exit 5"
            let start = MonotonicInstant.now()
            let result = try runLifeguard(mode, ["--grace-period", "20", "sh", "-c", script, helper], timeout: .seconds(15))
            #expect(result.code == 5)
            // 60 children exit at once; waiting for the 20 s grace period would mean an exit was missed.
            // 5 s covers 60 forks and exits on a loaded 2-CPU machine.
            #expect(seconds(since: start) < 5)
        }
    }

    @Test("an orphaned grandchild with a TERM handler runs it before Lifeguard exits", arguments: SupervisorMode.allCases)
    func grandchildGetsToFinish(mode: SupervisorMode) throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-marker-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let start = MonotonicInstant.now()
        let lifeguard = try Supervised(mode, ["--grace-period", "10", helper, "orphan-with-handler", marker, "1", "7"])
        #expect(lifeguard.exitCode() == 7)
        let elapsed = seconds(since: start)
        #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "clean\n", "the grandchild was killed mid-write")
        // It waited for the grandchild (1 s of work) and not for the whole grace period (10 s): 4 s of
        // slack for a loaded 2-CPU machine still tells the two apart.
        #expect(elapsed >= 1 && elapsed < 5, "elapsed \(elapsed)")
        #expect(lifeguard.stderr.contains("other processes remain: SIGTERM sent to them"))
    }

    @Test("a leftover that ignores SIGTERM is killed at the grace period", arguments: SupervisorMode.allCases)
    func leftoverIgnoringTerm(mode: SupervisorMode) throws {
        let start = MonotonicInstant.now()
        let lifeguard = try Supervised(mode, ["--grace-period", "1.5", "sh", "-c", "\"$0\" ignore-term & sleep 0.3; exit 3", helper])
        #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
        #expect(lifeguard.exitCode() == 3)
        let elapsed = seconds(since: start)
        // The child exits at 0.3 s, the leftover gets SIGKILL 1.5 s later: not before 1.75 s; the rest is
        // scheduling (the loop wakes at the deadline), 2.25 s of slack for a loaded 2-CPU machine.
        #expect(elapsed >= 1.75 && elapsed < 4, "elapsed \(elapsed)")
        #expect(lifeguard.stderr.contains("SIGKILL sent to the remaining processes"))
    }

    @Test("as a subreaper, orphans are re-parented to Lifeguard")
    func subreaperAdoptsOrphans() throws {
        // `children` counts Lifeguard's children seen by the helper while the orphans live.
        let lifeguard = try Supervised(.subreaper, [helper, "orphans", "5", "1.0", "0.2"])
        #expect(lifeguard.nextLine() == "orphans 5")
        #expect(lifeguard.nextLine() == "zombies 0 children 5")
        #expect(lifeguard.exitCode() == 0)
    }
}
