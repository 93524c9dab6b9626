import Foundation
import Testing

extension RealSystemTests {
    /// The image's files pass their linters, the examples carry what makes Lifeguard work, and the
    /// README's first command (the demo) runs.
    @Suite("Linters, examples and the demo")
    struct LintTests {
        static let root = Prerequisites.repositoryRoot
        /// Every shell script in the repository, found by its first line (so a new one cannot be missed).
        static var shellScripts: [String] {
            var found: [String] = []
            let enumerator = FileManager.default.enumerator(atPath: root)
            while let path = enumerator?.nextObject() as? String {
                let name = (path as NSString).lastPathComponent
                if name.hasPrefix(".build") || name == ".git" {
                    enumerator?.skipDescendants()
                    continue
                }
                guard enumerator?.fileAttributes?[.type] as? FileAttributeType == .typeRegular,
                      let handle = FileHandle(forReadingAtPath: root + "/" + path) else { continue }
                let head = String(decoding: handle.readData(ofLength: 64), as: UTF8.self)
                try? handle.close()
                let shebang = head.split(separator: "\n").first ?? ""
                if shebang.hasPrefix("#!"), shebang.hasSuffix("bash") || shebang.hasSuffix("/sh") { found.append(path) }
            }
            return found.sorted()
        }

        @Test("shellcheck: every shell script is clean", .needs(Prerequisites.executable("shellcheck") != nil, "shellcheck"))
        func shellcheck() throws {
            let scripts = Self.shellScripts
            #expect(scripts.contains("docker-entrypoint.sh") && scripts.contains(".ci/run") && scripts.contains("bench/run"), "\(scripts)")
            let result = try TestProcess(["shellcheck"] + scripts.map { Self.root + "/" + $0 })
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

        /// Each of these is a mistake an operator's review would catch: the checker must catch it too
        /// (a checker that cannot fail proves nothing). One change to a copy of the examples at a time.
        @Test("scripts/check-examples fails a manifest that is wrong, schema or semantics",
              .needs(Prerequisites.executable("yamllint") != nil, "yamllint"),
              arguments: [
                  ("mysql.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem is not true"),
                  ("mysql.yaml", "              subPath: mysql\n", "", "must be a subPath of the volume data"),
                  ("mysql.yaml", "mysql-lifeguard:8.4-lifeguard0.1.0", "mysql-lifeguard:latest", "has no pinned tag"),
                  ("mysql.yaml", "fsGroupChangePolicy:", "fsGroupChangePolicyy:", "is not valid Kubernetes 1.34"),
                  ("mysql.yaml", "            limits:\n              memory: 256Mi\n              cpu: 500m",
                   "            limits:\n              memory: 256Mi\n              cpu: \"1\"", "Guaranteed QoS"),
                  ("mysql.yaml", "  root-password: \"\"", "  password: \"\"", "a Secret mysql the file does not define"),
                  ("mysql.yaml", "            - name: tmp\n              mountPath: /tmp\n", "", "no emptyDir at /tmp"),
                  ("mysql.yaml", "              drop: [\"ALL\"]", "              drop: [\"NET_RAW\"]", "capabilities are not dropped"),
                  ("replicated.yaml", "maxUnavailable: 1", "maxUnavailable: 2", "let one go at a time"),
                  ("replicated.yaml", "            - topologyKey: kubernetes.io/hostname", "            - topologyKey: topology.kubernetes.io/zone",
                   "kept on different nodes"),
                  ("replicated.yaml", "publishNotReadyAddresses: true", "publishNotReadyAdresses: true", "is not valid Kubernetes 1.37"),
                  ("replicated.yaml", "args: [\"replica\", \"clone\"]", "args: [\"replica\"]", "no init container running `replica clone`"),
              ])
        func examplesCheckerFails(file: String, original: String, replacement: String, problem: String) throws {
            let copy = "/var/tmp/lifeguard-examples-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.root + "/examples", toPath: copy + "/examples")
            let path = copy + "/examples/kubernetes/" + file
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains(original), "the example no longer holds \(original)")
            try text.replacingOccurrences(of: original, with: replacement).write(toFile: path, atomically: true, encoding: .utf8)
            let result = try TestProcess([Self.root + "/scripts/check-examples", copy])
            #expect(result.exitCode() == 1 && result.stdout.contains(problem), "\(result.stdout)\(result.stderr)")
        }

        @Test("the demo: with Lifeguard a clean stop and the data; without, OOMKilled", .needs(Docker.available, "root and a Docker engine"))
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
