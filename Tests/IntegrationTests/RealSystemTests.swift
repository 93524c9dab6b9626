import Testing

/// The suites that use real systems (cgroups with memory hogs, MariaDB servers, the VM, the Docker
/// engine, the demo) run one at a time: run together they would compete for two cores and memory, and
/// the memory races and timings they measure would measure each other.
@Suite("Real systems, one suite at a time", .serialized)
struct RealSystemTests {}
