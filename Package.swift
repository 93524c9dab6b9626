// swift-tools-version:6.0
//
// Lifeguard: a tiny static PID 1 for MySQL containers. No package dependencies by design:
// every byte the supervisor holds counts against the container's own memory limit.
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
        // The few libc entry points Swift cannot import (signalfd, variadic prctl) and the fork/exec
        // child path, which must run only async-signal-safe code between fork and exec. Production only:
        // what the tests alone need is in CTestHelperSupport.
        .target(name: "CLifeguard"),
        // All the logic: configuration, process supervision, memory guard, status and probes.
        .target(name: "LifeguardCore", dependencies: ["CLifeguard"], swiftSettings: strict),
        // The thin command-line entry point.
        .executableTarget(name: "lifeguard", dependencies: ["LifeguardCore"], swiftSettings: strict),
        // Programs the integration tests and benchmarks run under Lifeguard (signal printers, hogs, orphans),
        // and the C they and the tests need (fork, raw signal resets, pipes, the hog's timeline).
        .target(name: "CTestHelperSupport"),
        .executableTarget(name: "lifeguard-test-helper", dependencies: ["CTestHelperSupport"], swiftSettings: strict),
        // Counts heap allocations in the test process (interposed malloc), to prove the memory
        // guard's emergency path allocates nothing. Test-only.
        .target(name: "CAllocationCounter", path: "Tests/Support/CAllocationCounter"),
        .testTarget(name: "LifeguardCoreTests", dependencies: ["LifeguardCore", "CAllocationCounter"], swiftSettings: strict),
        .testTarget(name: "IntegrationTests", dependencies: ["LifeguardCore", "CTestHelperSupport"], swiftSettings: strict),
    ]
)
