import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// What goes wrong in production, each on the real binary: crash loops, a stop signal in the middle
    /// of a memory stop, a full disk, cgroup files that turn to garbage, the wall clock jumping.
    @Suite("Faults", .serialized, .needs(Prerequisites.isRoot, Prerequisites.rootReason))
    struct FaultTests {
        func count(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

        @Test("a crash loop: started again with backoff, then the crash's own exit code at the cap")
        func crashLoop() throws {
            let result = try runLifeguard(.pid1, ["--on-crash", "restart", "--max-restarts", "2", "--status-file", "none",
                                                  helper, "signal-self", String(SIGSEGV)])
            #expect(result.code == 128 + SIGSEGV, "\(result.stderr)")
            #expect(count(#"msg="child started""#, in: result.stderr) == 3)
            #expect(count("the command crashed", in: result.stderr) == 3)
            #expect(result.stderr.contains(#"msg="restarting the command" delay_s=0 restart=1"#))
            #expect(result.stderr.contains(#"msg="restarting the command" delay_s=1 restart=2"#))
            #expect(result.stderr.contains("too many restarts"))
            // The default: a crash ends Lifeguard with 128+N at once, as any init.
            let plain = try runLifeguard(.pid1, ["--status-file", "none", helper, "signal-self", String(SIGABRT)])
            #expect(plain.code == 128 + SIGABRT)
            #expect(count(#"msg="child started""#, in: plain.stderr) == 1)
        }

        @Test("SIGTERM during a memory-triggered stop: forwarded, no restart, the child's own exit code",
              .needs(TestCgroup.available, "root and a writable v1 memory cgroup"))
        func stopSignalDuringMemoryStop() throws {
            let cgroup = try TestCgroup(limit: MemoryGuardTests.hardLimit)
            // The hog takes 1.5 s to shut down after SIGTERM, like a database flushing.
            let (process, lifeguard) = try cgroup.startLifeguard(["--status-file", "none", "--grace-period", "20",
                                                                  "--log-level", "debug", helper, "hog", "300", "--term-delay", "1.5"])
            let deadline = MonotonicInstant.now() + .seconds(20)
            while !(process.stdout.contains("terminating") && process.stderr.contains("memory limit reached: graceful stop")),
                  MonotonicInstant.now() < deadline {
                process.pump(waitingUpTo: .milliseconds(20))
            }
            #expect(process.stderr.contains("memory limit reached: graceful stop"), "\(process.stderr)")
            let stopAsked = MonotonicInstant.now()
            kill(lifeguard, SIGTERM)
            #expect(process.exitCode(timeout: .seconds(30)) == 0, "\(process.stderr)")
            // The child's own shutdown takes 1.5 s (--term-delay); the grace period would be 60 s. 5 s leaves 3.5 s
            // of scheduling on a loaded 2-CPU machine and still tells the two apart.
            #expect(seconds(since: stopAsked) < 5, "Lifeguard waited for more than the child's own shutdown")
            #expect(process.stderr.contains(#"msg="signal forwarded" signal=SIGTERM"#), "the second SIGTERM was not forwarded")
            #expect(!process.stderr.contains("restarting the command"))
            #expect(count("terminated", in: process.stdout) == 1)
            #expect(cgroup.oomKills == 0)
        }

        @Test("a full disk: Lifeguard supervises on, says so once, the probe says why, and it recovers")
        func diskFull() throws {
            let directory = "/var/tmp/lifeguard-full-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            #expect(try TestProcess(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", directory]).exitCode() == 0)
            defer {
                _ = try? TestProcess(["umount", "-l", directory]).exitCode()
                rmdir(directory)
            }
            let statusFile = directory + "/status.json"
            let lifeguard = try Supervised(.subreaper, ["--status-file", statusFile, "--status-interval", "0.1", helper, "sleep", "5"])
            #expect(StatusFileTests.waitForState(.starting, in: statusFile) != nil)
            // Fill what is left: dd stops at ENOSPC.
            _ = try TestProcess(["dd", "if=/dev/zero", "of=\(directory)/fill", "bs=4k"]).exitCode()
            usleep(600_000)
            let stale = try StatusFileTests.probe(["--live", "--max-age", "0.3", "--status-file", statusFile])
            #expect(stale.code == 1 && stale.line.contains("is full"), "\(stale.line)")
            #expect(count("cannot write the status file", in: lifeguard.stderr) == 1, "\(lifeguard.stderr)")
            #expect(lifeguard.stderr.contains("No space left on device"))
            // Space again: the next write lands and the probe passes.
            unlink(directory + "/fill")
            usleep(500_000)
            let fresh = try StatusFileTests.probe(["--live", "--max-age", "0.3", "--status-file", statusFile])
            #expect(fresh.code == 0, "\(fresh.line)")
            #expect(lifeguard.stderr.contains("status file writable again"))
            #expect(lifeguard.exitCode() == 0)
        }

        /// A fixture cgroup tree (LIFEGUARD_CGROUP_ROOT) whose files the test rewrites while Lifeguard runs.
        @Test("cgroup files that hold garbage or vanish mid-run: said once, supervision goes on, readings recover")
        func cgroupFilesGoBad() throws {
            let root = "/var/tmp/lifeguard-cgroup-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: root) }
            let memory = root + "/memory"
            try FileManager.default.createDirectory(atPath: memory, withIntermediateDirectories: true)
            func write(_ name: String, _ text: String) throws { try text.write(toFile: memory + "/" + name, atomically: false, encoding: .utf8) }
            try write("memory.usage_in_bytes", "100000000\n")
            try write("memory.limit_in_bytes", "268435456\n")
            try write("memory.soft_limit_in_bytes", "9223372036854771712\n")
            try write("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
            try write("memory.stat", "total_inactive_file 0\nhierarchical_memory_limit 9223372036854771712\n")
            let lifeguard = try Supervised(.subreaper, ["--status-file", "none", "--on-memory-limit", "exit", helper, "sleep", "30"],
                                           environment: ["LIFEGUARD_CGROUP_ROOT": root])
            usleep(300_000)
            try write("memory.usage_in_bytes", "garbage\n")
            usleep(300_000)
            try write("memory.usage_in_bytes", "")
            usleep(300_000)
            try write("memory.usage_in_bytes", "100000000\n")
            usleep(300_000)
            #expect(count("cannot read the cgroup memory files", in: lifeguard.stderr) == 1, "\(lifeguard.stderr)")
            #expect(count("cgroup memory files readable again", in: lifeguard.stderr) == 1)
            // Still guarding: over the trigger, the command is stopped.
            try write("memory.usage_in_bytes", "260000000\n")
            #expect(lifeguard.exitCode(timeout: .seconds(10)) == Supervisor.memoryExitCode, "\(lifeguard.stderr)")
            #expect(lifeguard.stderr.contains("working_set_bytes=260000000"))
        }

        /// All of Lifeguard's timers run on CLOCK_MONOTONIC: the wall clock jumping an hour forward, then
        /// two back, neither brings the SIGKILL forward nor makes a fresh status file look stale.
        @Test("the wall clock jumps: the grace period and the status file's age do not move")
        func wallClockJumps() throws {
            let directory = try StatusFileTests.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let statusFile = directory + "/status.json"
            let lifeguard = try Supervised(.pid1, ["--grace-period", "3", "--status-file", statusFile, "--status-interval", "0.2",
                                                   helper, "ignore-term"])
            #expect(lifeguard.nextLine()?.hasPrefix("ready") == true)
            let clock = WallClockJump()
            defer { clock.restore() }
            let stopAsked = MonotonicInstant.now()
            lifeguard.send(SIGTERM)
            clock.jump(by: 3600)
            usleep(1_000_000)
            let live = try StatusFileTests.probe(["--live", "--status-file", statusFile])
            #expect(live.code == 0, "\(live.line)")
            clock.jump(by: -7200)
            usleep(500_000)
            let stillLive = try StatusFileTests.probe(["--live", "--status-file", statusFile])
            #expect(stillLive.code == 0, "\(stillLive.line)")
            #expect(lifeguard.exitCode(timeout: .seconds(10)) == 128 + SIGKILL)
            let waited = seconds(since: stopAsked)
            // The loop wakes at the deadline itself (a ppoll timeout on CLOCK_MONOTONIC, not a poll), so any
            // lateness is scheduling; 1.5 s of it covers a loaded 2-CPU machine, while the clock jumps above
            // (+1 h, then -2 h) would move a wall-clock deadline by hours.
            #expect(waited >= 2.9 && waited < 4.5, "SIGKILL after \(waited) s, not 3")
        }
    }
}

/// Moves the wall clock (CLOCK_REALTIME) and puts it back where it would be had it never moved,
/// from the monotonic time elapsed.
final class WallClockJump: @unchecked Sendable {
    private let realStart = WallClockJump.now(CLOCK_REALTIME)
    private let monotonicStart = WallClockJump.now(CLOCK_MONOTONIC)

    static func now(_ clock: clockid_t) -> Int64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    func jump(by seconds: Int64) {
        set(WallClockJump.now(CLOCK_REALTIME) + seconds * 1_000_000_000)
    }

    func restore() {
        set(realStart + WallClockJump.now(CLOCK_MONOTONIC) - monotonicStart)
    }

    private func set(_ nanoseconds: Int64) {
        var time = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        clock_settime(CLOCK_REALTIME, &time)
    }
}
