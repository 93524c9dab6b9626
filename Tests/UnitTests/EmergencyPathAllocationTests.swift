import CAllocationCounter
import Glibc
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// The path from a memory reading over the trigger to kill(2) allocates nothing: it must run when the
/// container has no memory left to give. Allocations are counted by interposing malloc in this test
/// process; kill(2) is interposed too, to take the count at the moment the SIGTERM leaves.
@Suite("Emergency path", .serialized)
struct EmergencyPathAllocationTests {
    @Test("from the reading over the trigger to kill(2): zero allocations", arguments: [CgroupVersion.v1, .v2])
    func noAllocationBeforeKill(version: CgroupVersion) throws {
        let tree = try FixtureTree()
        let location: CgroupLocation
        switch version {
        case .v1:
            try tree.v1Cgroup("memory/db", usage: 100 << 20, limit: "268435456")
            location = CgroupLocation(version: .v1, directory: tree.root + "/memory/db", mountPoint: tree.root + "/memory")
        case .v2:
            try tree.v2Cgroup("db", usage: 100 << 20, max: "268435456")
            location = CgroupLocation(version: .v2, directory: tree.root + "/db", mountPoint: tree.root)
        }
        let memory = MemoryGuard(cgroup: try CgroupMemory(location: location), trigger: .automatic, headroom: .percent(5),
                                 policy: .init())
        _ = memory.refresh(now: .now())
        #expect(memory.trigger == 255_652_815)

        let devNull = try FileDescriptor.open("/dev/null", O_WRONLY)
        defer { devNull.close() }
        let spawner = ChildSpawner(arguments: ["sleep", "30"], environment: ["PATH=/usr/bin:/bin"],
                                   signalState: SignalState(originalMask: SignalSet(), resetInChild: SignalSet(), blocked: SignalSet()))
        let loop = SupervisorLoop(machine: Supervisor(settings: .init(gracePeriod: .seconds(5))), spawner: spawner,
                                  signals: try SignalChannel(watching: SignalSet()), logger: Logger(output: devNull),
                                  isInit: false, memory: memory)
        loop.start()
        let pid = try #require(loop.supervisor.childPID)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // Below the trigger: a sample, no stop (and the code path is warm, as it is after startup).
        loop.sampleMemory(now: .now())
        #expect(loop.supervisor.childPID == pid)
        if case .stopping = loop.supervisor.phase { Issue.record("stopped below the trigger") }

        // Over the trigger.
        switch version {
        case .v1: try tree.write("memory/db/memory.usage_in_bytes", "260000000\n")
        case .v2: try tree.write("db/memory.current", "260000000\n")
        }
        lg_allocations_start()
        loop.sampleMemory(now: .now())
        let total = lg_allocations_stop()
        let beforeKill = lg_allocations_at_first_kill()

        #expect(beforeKill == 0, "allocations before kill(2): \(beforeKill) (-1: kill was not called)")
        guard case .stopping(_, .memory(let report), _, _) = loop.supervisor.phase else {
            Issue.record("not stopping: \(loop.supervisor.phase)")
            return
        }
        #expect(report.reading.workingSet == 260_000_000)
        // After kill(2), logging may allocate: that is allowed, and shows the counter works.
        #expect(total > 0)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(TerminationStatus(waitStatus: status) == .signaled(.terminate, coreDumped: false))
    }
}
