import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem
import Testing

@Suite("Exit codes", .needs(Prerequisites.isRoot, Prerequisites.rootReason))
struct ExitCodeTests {
    /// 16 is MySQL's RESTART (the command is started again) unless LIFEGUARD_RESTART_EXIT_CODE=none.
    @Test("exit codes 0…255 pass through", arguments: SupervisorMode.allCases)
    func everyExitCodePassesThrough(mode: SupervisorMode) throws {
        var wrong: [String] = []
        for code in 0...255 {
            let result = try runLifeguard(mode, ["--log-level", "error", "--restart-exit-code", "none", "--status-file", "none",
                                                 helper, "exit", String(code)])
            if result.code != Int32(code) { wrong.append("\(code) → \(String(describing: result.code))") }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    @Test("a command that is not found gives 127 with a clear message", arguments: SupervisorMode.allCases)
    func commandNotFound(mode: SupervisorMode) throws {
        let result = try runLifeguard(mode, ["no-such-command-lifeguard-test"])
        #expect(result.code == 127)
        #expect(result.stderr.contains("command not found: no-such-command-lifeguard-test: No such file or directory"))
    }

    @Test("a command that is not executable gives 126 with a clear message", arguments: SupervisorMode.allCases)
    func commandNotExecutable(mode: SupervisorMode) throws {
        // One file per case: the cases run in parallel, and one's removal must not pull the other's file away.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-not-executable-\(getpid())-\(mode.rawValue)").path
        try "#!/bin/sh\nexit 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runLifeguard(mode, [path])
        #expect(result.code == 126)
        #expect(result.stderr.contains("command cannot be executed: \(path): Permission denied"))
        // A directory cannot be executed either.
        #expect(try runLifeguard(mode, ["/tmp"]).code == 126)
    }

    @Test("--help and --version exit 0 and start nothing")
    func helpAndVersion() throws {
        let help = try runLifeguard(.subreaper, ["--help"])
        #expect(help.code == 0)
        #expect(help.stdout.contains("Usage:"))
        #expect(help.stdout.contains("LIFEGUARD_GRACE_PERIOD"))
        let version = try runLifeguard(.subreaper, ["--version"])
        #expect(version.code == 0)
        #expect(version.stdout == "lifeguard \(LifeguardVersion.string)\n")
    }
}

/// An invalid value must stop Lifeguard with exit 2 and one line naming the variable, the value and
/// what is accepted, before anything starts: the command here would create a file.
@Suite("Configuration errors")
struct ConfigurationErrorTests {
    static let invalid: [(String, String)] = [
        ("LIFEGUARD_GRACE_PERIOD", "abc"), ("LIFEGUARD_GRACE_PERIOD", "-5"), ("LIFEGUARD_GRACE_PERIOD", ""),
        ("LIFEGUARD_GRACE_PERIOD", "99999999999999999999"), ("LIFEGUARD_GRACE_PERIOD", "10 s"),
        ("LIFEGUARD_GRACE_PERIOD", "5d"), ("LIFEGUARD_GRACE_PERIOD", "1e3"),
        ("LIFEGUARD_PROCESS_GROUP", "maybe"), ("LIFEGUARD_PROCESS_GROUP", ""),
        ("LIFEGUARD_LOG_FORMAT", "xml"), ("LIFEGUARD_LOG_LEVEL", "loud"), ("LIFEGUARD_LOG_LEVEL", ""),
        ("LIFEGUARD_GRACE_PERIOD", "0"), ("LIFEGUARD_MEMORY_LIMIT", "240MBs"), ("LIFEGUARD_FILL_RATE", "4G/sec"),
        ("LIFEGUARD_RESTART_EXIT_CODE", "256"),
    ] + Configuration.settings.flatMap { setting in
        // Every variable, through the real binary: garbage, negative, empty and overflow (each
        // variable's own mistakes are checked one by one in BadInputTests).
        ["abc", "-5", "", "99999999999999999999"].map { (setting.variable, $0) }
    }

    @Test("invalid variables exit 2 before starting anything", arguments: invalid)
    func invalidVariable(variable: String, value: String) throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-started-\(UUID())").path
        let result = try runLifeguard(.subreaper, ["touch", marker], environment: [variable: value])
        #expect(result.code == 2)
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("lifeguard: \(variable) "))
        #expect(result.stderr.contains(value.isEmpty ? "is empty" : "\"\(value)\""))
        #expect(result.stderr.contains("expected "))
    }

    /// (flags, whether a command follows): a flag missing its value and a missing command included.
    @Test("invalid flags exit 2 before starting anything", arguments: [
        (["--grace-period", "soon"], true), (["--grace-period"], false), (["--log-format=yaml"], true),
        (["--bogus"], true), (["--log-level", "debug"], false),
    ])
    func invalidFlag(flags: [String], withCommand: Bool) throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("lifeguard-started-\(UUID())").path
        let result = try runLifeguard(.subreaper, flags + (withCommand ? ["touch", marker] : []))
        #expect(result.code == 2)
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("a misspelt LIFEGUARD_ variable is warned about with the closest name")
    func typoWarning() throws {
        let result = try runLifeguard(.subreaper, [helper, "exit", "0"], environment: ["LIFEGUARD_GRACEPERIOD": "5"])
        #expect(result.code == 0)
        #expect(result.stderr.contains(#"msg="unknown variable ignored" variable=LIFEGUARD_GRACEPERIOD did_you_mean=LIFEGUARD_GRACE_PERIOD"#))
    }

    @Test("logs are logfmt by default and JSON on request")
    func logFormats() throws {
        let logfmt = try runLifeguard(.subreaper, [helper, "exit", "3"])
        #expect(logfmt.stderr.contains(#"level=info msg="child started" pid="#))
        #expect(logfmt.stderr.contains("msg=exiting exit_code=3"))
        let json = try runLifeguard(.subreaper, [helper, "exit", "3"], environment: ["LIFEGUARD_LOG_FORMAT": "json"])
        let lines = json.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.hasPrefix("{\"ts\":\"") && line.hasSuffix("}"), "\(line)")
        }
        #expect(json.stderr.contains(#""msg":"exiting","exit_code":3}"#))
        let quiet = try runLifeguard(.subreaper, [helper, "exit", "3"], environment: ["LIFEGUARD_LOG_LEVEL": "error"])
        #expect(quiet.stderr.isEmpty)
    }
}
