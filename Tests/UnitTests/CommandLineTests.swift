@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Command line and environment")
struct CommandLineTests {
    func configuration(_ arguments: [String], _ environment: [String: String] = [:]) throws -> Configuration {
        guard case .supervise(let configuration) = try CommandLineParser.parse(arguments: arguments, environment: environment) else {
            Issue.record("not a supervise invocation")
            return Configuration()
        }
        return configuration
    }

    @Test("defaults")
    func defaults() throws {
        let config = try configuration(["mysqld"])
        #expect(config.gracePeriod == .seconds(60))
        #expect(config.signalProcessGroup == false)
        #expect(config.logFormat == .logfmt)
        #expect(config.logLevel == .info)
        #expect(config.command == ["mysqld"])
    }

    @Test("options stop at the command; everything after belongs to it")
    func commandArguments() throws {
        let config = try configuration(["-g", "--grace-period", "5", "mysqld", "--user=mysql", "--grace-period", "9"])
        #expect(config.signalProcessGroup)
        #expect(config.gracePeriod == .seconds(5))
        #expect(config.command == ["mysqld", "--user=mysql", "--grace-period", "9"])
        #expect(try configuration(["--", "--not-an-option"]).command == ["--not-an-option"])
        #expect(try configuration(["--log-level=debug", "--", "x"]).logLevel == .debug)
    }

    @Test("a flag wins over its variable")
    func flagsWin() throws {
        let environment = ["LIFEGUARD_GRACE_PERIOD": "10", "LIFEGUARD_LOG_FORMAT": "json", "LIFEGUARD_PROCESS_GROUP": "yes"]
        let fromEnvironment = try configuration(["x"], environment)
        #expect(fromEnvironment.gracePeriod == .seconds(10))
        #expect(fromEnvironment.logFormat == .json)
        #expect(fromEnvironment.signalProcessGroup)
        let overridden = try configuration(["--grace-period=3s", "--log-format", "logfmt", "--process-group=false", "x"], environment)
        #expect(overridden.gracePeriod == .seconds(3))
        #expect(overridden.logFormat == .logfmt)
        #expect(!overridden.signalProcessGroup)
    }

    @Test("errors name the source, the value and what is accepted")
    func errors() {
        #expect(throws: ConfigurationError.invalid("LIFEGUARD_GRACE_PERIOD", value: "x", accepted: "a duration greater than zero: seconds (60, 2.5) or with ms, s, m or h (90s, 2m)")) {
            try CommandLineParser.parse(arguments: ["c"], environment: ["LIFEGUARD_GRACE_PERIOD": "x"])
        }
        let empty = ConfigurationError.invalid("LIFEGUARD_LOG_LEVEL", value: "", accepted: "debug, info, warn or error")
        #expect(empty.message == "LIFEGUARD_LOG_LEVEL is empty: expected debug, info, warn or error")
        let garbage = ConfigurationError.invalid("--grace-period", value: "soon", accepted: "a duration")
        #expect(garbage.message == #"--grace-period = "soon" is invalid: expected a duration"#)
        #expect(throws: ConfigurationError.self) { try CommandLineParser.parse(arguments: [], environment: [:]) }
        #expect(throws: ConfigurationError.self) { try CommandLineParser.parse(arguments: ["--nope", "x"], environment: [:]) }
        #expect(throws: ConfigurationError.self) { try CommandLineParser.parse(arguments: ["--grace-period"], environment: [:]) }
    }

    @Test("help and version")
    func helpAndVersion() throws {
        #expect(try CommandLineParser.parse(arguments: ["--help", "x"], environment: [:]) == .help)
        #expect(try CommandLineParser.parse(arguments: ["-h"], environment: [:]) == .help)
        #expect(try CommandLineParser.parse(arguments: ["-V"], environment: [:]) == .version)
        let help = HelpText.render()
        for setting in Configuration.settings { #expect(help.contains(setting.variable)) }
    }

    @Test("resurrect is a subcommand; after -- it is a command to supervise")
    func resurrectSubcommand() throws {
        #expect(try CommandLineParser.parse(arguments: ["resurrect", "--force"], environment: [:]) == .resurrect(["--force"]))
        guard case .supervise(let configuration) = try CommandLineParser.parse(arguments: ["--", "resurrect"], environment: [:]) else {
            Issue.record("-- resurrect is not supervised")
            return
        }
        #expect(configuration.command == ["resurrect"])
        #expect(HelpText.render().contains("lifeguard resurrect [--force]"))
    }

    @Test("unknown LIFEGUARD_ variables are collected with a suggestion")
    func unknownVariables() throws {
        let config = try configuration(["x"], ["LIFEGUARD_GRACEPERIOD": "1", "LIFEGUARD_LOG_LEVLE": "debug", "OTHER": "1",
                                                "LIFEGUARD_RESURRECT_KEEP_DAYS": "3", "LIFEGUARD_SERVER_CONFIG": "/run/x.cnf", "LIFEGUARD_OFFER": "1G"])
        #expect(config.unknownVariables == ["LIFEGUARD_GRACEPERIOD", "LIFEGUARD_LOG_LEVLE"])
        #expect(Configuration.suggestion(for: "LIFEGUARD_GRACEPERIOD") == "LIFEGUARD_GRACE_PERIOD")
        #expect(Configuration.suggestion(for: "LIFEGUARD_LOG_LEVLE") == "LIFEGUARD_LOG_LEVEL")
        #expect(Configuration.suggestion(for: "LIFEGUARD_SOMETHING_ELSE_ENTIRELY") == nil)
    }
}
