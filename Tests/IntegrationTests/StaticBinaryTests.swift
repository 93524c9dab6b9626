import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

@Suite("The static binary")
struct StaticBinaryTests {
    @Test("ldd: not a dynamic executable", .needs(Prerequisites.staticBinary != nil, "the static build (scripts/test)"))
    func notDynamic() throws {
        let binary = try #require(Prerequisites.staticBinary, "LIFEGUARD_BINARY is not set: run scripts/test")
        let ldd = try TestProcess(["ldd", binary])
        ldd.wait()
        #expect((ldd.stdout + ldd.stderr).contains("not a dynamic executable"))
    }

    /// Docker's RLIMIT_MEMLOCK is 8 MiB: the executable's mappings must fit in it to be locked whole
    /// (`MemoryLock`). One `String.contains(String)` once linked the regex engine and took the binary from
    /// 7.5 to 8.9 MB; the unstripped one's symbols say whether it is back.
    @Test("size: the mappings fit Docker's 8 MiB lock limit; no regex engine linked",
          .needs(Prerequisites.staticBinary != nil, "the static build (scripts/test)"))
    func size() throws {
        let binary = try #require(Prerequisites.staticBinary)
        let attributes = try FileManager.default.attributesOfItem(atPath: binary)
        let bytes = try #require(attributes[.size] as? Int)
        #expect(bytes < 8_000_000, "\(bytes) bytes")
        let symbols = try TestProcess(["nm", binary + ".unstripped"])
        symbols.wait()
        #expect(!symbols.stdout.isEmpty, "\(symbols.stderr)")
        #expect(!symbols.stdout.contains("RegexParser"))
    }

    /// A root holding only the binary and /proc has no libc at all, so this is stricter than any
    /// older-glibc base image: the binary runs as PID 1 there and supervises itself. (/proc is needed:
    /// the Swift runtime aborts without /proc/self/exe; every container runtime mounts it.)
    @Test("runs as PID 1 in an empty root with no libc",
          .needs(Prerequisites.staticBinary != nil && Prerequisites.isRoot, "the static build (scripts/test) and " + Prerequisites.rootReason))
    func runsWithoutLibc() throws {
        let binary = try #require(Prerequisites.staticBinary, "LIFEGUARD_BINARY is not set: run scripts/test")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-root-\(UUID())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // cp, not FileManager: a write descriptor held in this process could leak into a process another
        // test spawns at that moment, and exec would then fail with ETXTBSY.
        #expect(try TestProcess(["cp", binary, root + "/lifeguard"]).exitCode() == 0)
        try FileManager.default.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
        let run = try TestProcess(["unshare", "--pid", "--fork", "--mount", "--mount-proc=\(root)/proc",
                                   "chroot", root, "/lifeguard", "/lifeguard", "--version"])
        #expect(run.exitCode() == 0)
        #expect(run.stdout == "lifeguard \(LifeguardVersion.string)\n")
        // Pid 2 is Lifeguard's output thread (a thread takes a number from the same space).
        #expect(run.stderr.contains(#"msg="child started" pid=3"#), "\(run.stderr)")
    }
}
