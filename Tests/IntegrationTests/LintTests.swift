import Foundation
import Testing

extension RealSystemTests {
    /// The image's files pass their linters, the examples carry what makes Lifeguard work, and the
    /// README's first command (the demo) runs.
    @Suite("Linters, examples and the demo")
    struct LintTests {
        static let root = Prerequisites.repositoryRoot
        static let shellScripts = ["docker-entrypoint.sh", "scripts/build-static", "scripts/test", "scripts/build-base-image",
                                   "scripts/cgroup-v2-vm", "scripts/demo", "scripts/vm/memory-guard-v2.sh", ".ci/run"]

        @Test("shellcheck: every shell script is clean", .needs(Prerequisites.executable("shellcheck") != nil, "shellcheck"))
        func shellcheck() throws {
            let result = try TestProcess(["shellcheck"] + Self.shellScripts.map { Self.root + "/" + $0 })
            #expect(result.exitCode() == 0, "\(result.stdout)")
        }

        @Test("hadolint: the Dockerfile is clean", .needs(Prerequisites.executable("hadolint") != nil, "hadolint"))
        func hadolint() throws {
            let result = try TestProcess(["hadolint", Self.root + "/Dockerfile"])
            #expect(result.exitCode() == 0, "\(result.stdout)")
        }

        @Test("the compose file and the Kubernetes manifests: yamllint and the fields that matter",
              .needs(Prerequisites.executable("yamllint") != nil, "yamllint"))
        func examples() throws {
            let result = try TestProcess([Self.root + "/scripts/check-examples", Self.root])
            #expect(result.exitCode() == 0, "\(result.stdout)\(result.stderr)")
        }

        @Test("the demo: with Lifeguard a clean stop and the data; without, OOMKilled", .needs(Docker.available, "a Docker engine"))
        func demo() throws {
            _ = try Docker.requireImage()  // the base image, built once for all the Docker tests
            // --prebuilt: the static binary scripts/test built (a `swift build` would wait for this very test run).
            let demo = try TestProcess([Self.root + "/scripts/demo", "--prebuilt"])
            #expect(demo.exitCode(timeout: .seconds(900)) == 0, "\(demo.stdout.suffix(3000))\(demo.stderr.suffix(2000))")
            let output = demo.stdout
            #expect(output.contains("lifeguard-demo-with: running=true OOMKilled=false"))
            #expect(output.contains("lifeguard-demo-without: running=false OOMKilled=true exit=137"))
            #expect(output.contains("memory limit reached: graceful stop"))
            #expect(output.contains("with Lifeguard, rows committed before the stop: 20000"))
            #expect(output.contains("crash recovery"))
            let leftovers = try Docker.run(["ps", "-a", "--filter", "name=lifeguard-demo", "--format", "{{.Names}}"])
            #expect(leftovers.stdout.isEmpty, "the demo left containers behind")
        }
    }
}
