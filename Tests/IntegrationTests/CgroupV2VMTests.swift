import Foundation
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

extension RealSystemTests {
    /// This machine's memory controller is v1; a real cgroup v2 runs in a VM: Debian's kernel under qemu
    /// (software emulation), an initramfs with busybox, the static Lifeguard and the static test helper.
    /// The scenarios are scripts/vm/memory-guard-v2.sh.
    @Suite("Memory guard on a real cgroup v2 (VM)", .needs(Prerequisites.virtualMachine, "qemu, a kernel, busybox-static, scripts/test"))
    struct CgroupV2VMTests {
        struct Outcome {
            var code: Int
            var oomKills: Int
            var log: String
            /// The RESULT line itself.
            var fields: String
        }

        /// Boots the VM on `scenario` (a file in scripts/vm); the outcome of each RESULT line, by name,
        /// and the whole output.
        func boot(_ scenario: String, environment: [String: String] = [:], timeout: Int = 280) throws
            -> (outcomes: [String: Outcome], output: String) {
            let lifeguard = try #require(Prerequisites.staticBinary, "run scripts/test")
            let helper = try #require(Prerequisites.staticHelper, "run scripts/test")
            let root = Prerequisites.repositoryRoot
            let vm = try TestProcess([root + "/scripts/cgroup-v2-vm", lifeguard, helper, root + "/scripts/vm/" + scenario, String(timeout)],
                                     environment: environment)
            #expect(vm.exitCode(timeout: .seconds(timeout + 20)) != nil, "the VM did not finish")
            let output = vm.stdout.replacingOccurrences(of: "\r", with: "")
            #expect(output.contains("DONE"), "\(output.suffix(2000)) \(vm.stderr)")
            var outcomes: [String: Outcome] = [:]
            for line in output.split(separator: "\n") {
                let words = line.split(separator: " ")
                if line.hasPrefix("RESULT "), words.count >= 4 {
                    let code = Int(words[2].dropFirst("rc=".count)) ?? -1
                    let kills = Int(words[3].dropFirst("oom_kill=".count)) ?? -1
                    outcomes[String(words[1])] = Outcome(code: code, oomKills: kills, log: "", fields: String(line))
                } else if line.hasPrefix("LOG "), words.count >= 2 {
                    outcomes[String(words[1]), default: Outcome(code: -1, oomKills: -1, log: "", fields: "")].log += line + "\n"
                }
            }
            return (outcomes, output)
        }

        @Test("the kernel's v2 OOM killer fires without the guard; with it, every scenario stops cleanly")
        func scenarios() throws {
            let (outcomes, output) = try boot("memory-guard-v2.sh")
            // The control: the kernel's cgroup OOM killer really fires here, and counts in memory.events.
            #expect(outcomes["noguard"]?.code == 137)
            #expect(outcomes["noguard"]?.oomKills == 1)
            for name in ["term", "ignore", "max", "container", "nested"] {
                let outcome = try #require(outcomes[name], "no result for \(name): \(output.suffix(3000))")
                #expect(outcome.code == 75, "\(name): \(outcome.log)")
                #expect(outcome.oomKills == 0, "\(name): the kernel OOM-killed it")
                #expect(outcome.log.contains("cgroup_version=v2"), "\(name)")
                #expect(outcome.log.contains("memory limit reached: graceful stop"), "\(name)")
                #expect(outcome.log.contains("soft_limit_bytes=255012864"), "\(name): memory.low is the soft limit")
            }
            #expect(outcomes["ignore"]?.log.contains("grace period over: SIGKILL sent") == true)
            // Docker's v2 layout: a private cgroup namespace, cgroupfs read-only, the cgroup at the mount root.
            #expect(outcomes["container"]?.log.contains("cgroup=/sys/fs/cgroup kernel_notifications=memory.events") == true)
            // The limit on the parent only: found by walking up.
            #expect(outcomes["nested"]?.log.contains("cgroup=/sys/fs/cgroup/nested/ctr") == true)
            #expect(outcomes["nested"]?.log.contains("limit_bytes=268435456") == true)
            // The guard off: memory.events (POLLPRI) wakes Lifeguard when the kernel OOM-kills a background
            // process; the main child runs on and exits 0.
            let watch = try #require(outcomes["oomwatch"])
            #expect(watch.code == 0 && watch.oomKills == 1, "\(watch.log)")
            #expect(watch.log.contains("kernel memory notification"))
            #expect(watch.log.contains("the kernel OOM killer killed a process in this container"))
        }
    
        /// Page cache on a real block device under v2 (scripts/vm/page-cache-v2.sh): 600 MB written and a
        /// 400 MB file read three times next to 100 MiB of anonymous memory never stop the command; pages
        /// under writeback on a slow disk, which v2 reclaim does not wait for, count.
        @Test("v2 page cache: a dump and big reads never stop; next to 236 MiB, a writer on a slow disk does (its writeback counts)")
        func pageCache() throws {
            let (outcomes, output) = try boot("page-cache-v2.sh", environment: ["VM_DISKS": "1"])
            #expect(!output.contains("FAILED"), "\(output.suffix(3000))")
            let cache = try #require(outcomes["cache"], "\(output.suffix(3000))")
            #expect(cache.code == 0 && cache.oomKills == 0, "\(cache.log)")
            #expect(cache.fields.contains("stops=0"), "\(cache.fields)")
            #expect(cache.fields.contains("peak=26843"), "the cache never filled the cgroup: \(cache.fields)")
            #expect(output.contains("CHECK slow stops_before_writer=0"), "236 MiB alone was stopped")
            let slow = try #require(outcomes["slow"], "\(output.suffix(3000))")
            #expect(slow.code == 75 && slow.oomKills == 0, "\(slow.log)")
            let stop = try #require(slow.log.split(separator: "\n").first { $0.contains("memory limit reached") })
            // The figure counts what is being written: unreclaimable above the anonymous memory held.
            let field = { (name: String) in stop.split(separator: " ").first { $0.hasPrefix(name + "=") }
                .flatMap { UInt64($0.dropFirst(name.count + 1)) } }
            let unreclaimable = try #require(field("unreclaimable_bytes"))
            let usage = try #require(field("usage_bytes")), fileCache = try #require(field("file_cache_bytes"))
            #expect(unreclaimable > usage - fileCache, "\(stop)")
        }
    }
}
