import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem

/// The Docker engine, through Debian's docker.io 20.10 client. Containers run with `--network none`:
/// never a bridge network, never a non-loopback address.
enum Docker {
    static let client = "/usr/bin/docker"
    static let baseImage = "lifeguard/mariadb-base:bookworm"
    static let image = "lifeguard/mariadb:test"

    static var available: Bool {
        Prerequisites.isRoot && FileManager.default.isExecutableFile(atPath: client)
            && (try? run(["info", "--format", "{{.ServerVersion}}"]).code) == 0
            && Prerequisites.staticBinary != nil
    }

    /// Runs the client; (exit code, stdout, stderr).
    @discardableResult
    static func run(_ arguments: [String], timeout: Duration = .seconds(600), environment: [String: String] = [:]) throws
        -> (code: Int32?, stdout: String, stderr: String) {
        let process = try TestProcess([client] + arguments, environment: environment)
        let code = process.exitCode(timeout: timeout)
        return (code, process.stdout, process.stderr)
    }

    /// The base image (debootstrap, reused by tag) and the project's image built from the Dockerfile
    /// with the prebuilt static binary: once per test run.
    static let prepared: Result<String, TestFailure> = {
        let root = Prerequisites.repositoryRoot
        guard let base = try? TestProcess([root + "/scripts/build-base-image", baseImage]),
              base.exitCode(timeout: .seconds(900)) == 0 else {
            return .failure(TestFailure("scripts/build-base-image failed"))
        }
        let build = try? TestProcess([client, "build", "--network", "host", "-q", "--build-arg", "BASE_IMAGE=\(baseImage)",
                                      "--build-arg", "BINARY_SOURCE=prebuilt", "-t", image, root], environment: ["DOCKER_BUILDKIT": "1"])
        guard let build, build.exitCode(timeout: .seconds(900)) == 0 else {
            return .failure(TestFailure("docker build failed: \(build?.stderr ?? "")"))
        }
        return .success(image)
    }()

    static func requireImage() throws -> String {
        switch prepared {
        case .success(let image): return image
        case .failure(let error): throw error
        }
    }
}

/// One container, removed (with its anonymous volumes) when the test is done.
final class Container: @unchecked Sendable {
    let name: String

    /// `docker run -d --network none --name … OPTIONS IMAGE ARGS`; `joining`: in that container's
    /// network namespace instead (loopback shared, as a pod's containers share theirs).
    init(_ options: [String], arguments: [String] = [], joining other: Container? = nil) throws {
        name = "lifeguard-test-\(UUID().uuidString.prefix(8).lowercased())"
        let image = try Docker.requireImage()
        let network = other.map { "container:" + $0.name } ?? "none"
        let result = try Docker.run(["run", "-d", "--name", name, "--network", network] + options + [image] + arguments)
        guard result.code == 0 else { throw TestFailure("docker run failed: \(result.stderr)") }
    }

    deinit { _ = try? Docker.run(["rm", "-f", "-v", name], timeout: .seconds(120)) }

    var logs: String {
        let result = try? Docker.run(["logs", name])
        return (result?.stdout ?? "") + (result?.stderr ?? "")
    }

    func inspect(_ format: String) -> String {
        ((try? Docker.run(["inspect", "-f", format, name]))?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    func exec(_ command: [String], user: String? = nil) throws -> (code: Int32?, stdout: String, stderr: String) {
        try Docker.run(["exec"] + (user.map { ["-u", $0] } ?? []) + [name] + command, timeout: .seconds(300))
    }

    /// SQL through the client in the container; (exit code, output).
    @discardableResult
    func sql(_ statement: String, user: String = "root", password: String, database: String? = nil) throws -> (code: Int32?, output: String) {
        let result = try exec(["mariadb", "-u\(user)", "-p\(password)", "-N", "-B"] + (database.map { [$0] } ?? []) + ["-e", statement])
        return (result.code, (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits until the logs contain `text` (`count` times), or the container stops.
    func waitForLog(_ text: String, count: Int = 1, timeout: Duration = .seconds(120)) -> Bool {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            if logs.components(separatedBy: text).count - 1 >= count { return true }
            if inspect("{{.State.Running}}") != "true" { return logs.components(separatedBy: text).count - 1 >= count }
            usleep(200_000)
        }
        return false
    }

    func waitForHealth(_ status: String = "healthy", timeout: Duration = .seconds(120)) -> Bool {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            if inspect("{{.State.Health.Status}}") == status { return true }
            usleep(250_000)
        }
        return false
    }

    /// Waits for the container to stop; its exit code.
    func waitForExit(timeout: Duration = .seconds(120)) -> Int32? {
        let result = try? Docker.run(["wait", name], timeout: timeout)
        return result?.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == false
            ? Int32(result!.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }
}
