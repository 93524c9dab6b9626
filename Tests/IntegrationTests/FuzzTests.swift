import Foundation
import Testing

extension RealSystemTests {
    /// The parsers of outside input under libFuzzer and AddressSanitizer for a bounded time
    /// (scripts/fuzz): zero crashes. Longer runs: `scripts/fuzz 600`.
    @Suite("Fuzzing")
    struct FuzzTests {
        @Test("cgroup files, configuration, notify datagrams, status files, MySQL server packets: no crash in 10 s each",
              .needs(Prerequisites.executable("clang") != nil, "clang (from the Swift toolchain)"))
        func fuzz() throws {
            let run = try TestProcess([Prerequisites.repositoryRoot + "/scripts/fuzz", "10"])
            #expect(run.exitCode(timeout: .seconds(900)) == 0, "\(run.stdout)\n\(run.stderr.suffix(4000))")
            #expect(run.stdout.contains("no crash in 5 targets"))
        }
    }
}
