import Foundation
import Glibc
import Testing

/// Tests that need something outside the package (the static binary, MariaDB, qemu, Docker) run when
/// it is there. Under CI=true they always run, so a missing prerequisite fails instead of skipping.
enum Prerequisites {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Root: PID namespaces (`unshare --pid`), mounts, cgroups, servers that run as root.
    static let isRoot = getuid() == 0
    static let rootReason = "root (PID namespaces with unshare --pid, mounts, chroot)"

    /// The binary under test is the static build (scripts/test sets LIFEGUARD_BINARY).
    static var staticBinary: String? { ProcessInfo.processInfo.environment["LIFEGUARD_BINARY"] }

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether python3 can import `module` (pymysql for the reliability run).
    static func pythonModule(_ module: String) -> Bool {
        guard executable("python3") != nil, let check = try? TestProcess(["python3", "-c", "import \(module)"]) else { return false }
        return check.exitCode(timeout: .seconds(30)) == 0
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test when `available`, or always under CI (where the test then fails on what is missing).
    static func needs(_ available: @autoclosure @escaping @Sendable () -> Bool, _ what: String) -> Self {
        .enabled(if: Prerequisites.isCI || available(), Comment(rawValue: "needs \(what)"))
    }
}

extension Prerequisites {
    /// The repository root (where Package.swift is).
    static let repositoryRoot: String = {
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { return directory.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The static test helper (scripts/test builds it).
    static var staticHelper: String? { ProcessInfo.processInfo.environment["LIFEGUARD_TEST_HELPER_STATIC"] }

    /// What the cgroup v2 VM needs: qemu, a kernel, a static busybox, and the static binaries.
    static var virtualMachine: Bool {
        isRoot && executable("qemu-system-x86_64") != nil && executable("cpio") != nil && executable("busybox") != nil
            && ((try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []).contains { $0.hasPrefix("vmlinuz-") }
            && staticBinary != nil && staticHelper != nil
    }
}
