// swift-tools-version:6.2
//
// Lifeguard: a tiny static PID 1 for MySQL containers. No package dependencies by design:
// every byte the supervisor holds counts against the container's own memory limit.
// Swift 6.2 or later: the emergency path's inline storage uses InlineArray and integer generic parameters.
//
// Targets by concern, each depending only on those below it:
//
//   lifeguard (the command)
//     ├─ LifeguardImage        the image's commands: server sizing, my.cnf rendering, run-as
//     │    └─ LifeguardSupervisor
//     └─ LifeguardSupervisor   the supervisor: configuration, processes, the memory guard, readiness,
//          │                   the state machine and the loop that performs it
//          ├─ LifeguardCgroup  the memory cgroup: discovery, files, readings
//          ├─ LifeguardMySQL   the MySQL client protocol, bytes in and out, no I/O (Lifeguard's own connection)
//          └─ LifeguardStatus  what people and probes read: the status file, metrics, log, probe, fleet view
//               └─ LifeguardSystem   system calls and their errors, files, clocks, text
//                    └─ CLifeguard   what Swift cannot call: signalfd, prctl, the fork/exec child path
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Lifeguard",
    products: [
        .executable(name: "lifeguard", targets: ["lifeguard"]),
    ],
    targets: [
        .target(name: "CLifeguard"),
        .target(name: "LifeguardSystem", dependencies: ["CLifeguard"], swiftSettings: strict),
        .target(name: "LifeguardStatus", dependencies: ["LifeguardSystem"], swiftSettings: strict),
        .target(name: "LifeguardCgroup", dependencies: ["LifeguardSystem"], swiftSettings: strict),
        .target(name: "LifeguardMySQL", swiftSettings: strict),
        .target(name: "LifeguardSupervisor", dependencies: ["LifeguardSystem", "LifeguardCgroup", "LifeguardStatus", "LifeguardMySQL", "CLifeguard"],
                swiftSettings: strict),
        .target(name: "LifeguardImage", dependencies: ["LifeguardSupervisor", "LifeguardCgroup", "LifeguardSystem"],
                swiftSettings: strict),
        .executableTarget(name: "lifeguard", dependencies: ["LifeguardSupervisor", "LifeguardStatus", "LifeguardImage"],
                          swiftSettings: strict),
        // Programs the integration tests and benchmarks run under Lifeguard (signal printers, hogs, orphans),
        // and the C they and the tests need (fork, raw signal resets, pipes, the hog's timeline).
        .target(name: "CTestHelperSupport"),
        .executableTarget(name: "lifeguard-test-helper", dependencies: ["CTestHelperSupport"], swiftSettings: strict),
        // Counts heap allocations in the test process (interposed malloc), to prove the memory
        // guard's emergency path allocates nothing. Test-only.
        .target(name: "CAllocationCounter", path: "Tests/Support/CAllocationCounter"),
        // Root-free and fast: parsers, the state machine, the policy, logs, status, over fixture trees.
        .testTarget(name: "UnitTests",
                    dependencies: ["LifeguardSystem", "LifeguardStatus", "LifeguardCgroup", "LifeguardSupervisor", "LifeguardImage",
                                   "LifeguardMySQL", "CAllocationCounter"],
                    swiftSettings: strict),
        // The real binary against real cgroups, MariaDB, a VM and Docker (root; see README).
        .testTarget(name: "IntegrationTests",
                    dependencies: ["LifeguardSystem", "LifeguardStatus", "LifeguardCgroup", "LifeguardSupervisor", "LifeguardImage",
                                   "LifeguardMySQL", "CTestHelperSupport"],
                    swiftSettings: strict),
    ]
)
