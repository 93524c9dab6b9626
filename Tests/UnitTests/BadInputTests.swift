@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// Every `LIFEGUARD_*` variable refuses every kind of bad value with one error naming the variable,
/// the value and what it accepts (the binary then exits 2 before starting anything: ExitCodeTests).
@Suite("Every variable refuses bad input")
struct BadInputTests {
    /// Mistakes no variable accepts.
    static let universal = ["abc", "-5", "", " ", "5\n", "0x10", "∞", "5 5"]

    /// Each variable's own mistakes: zero where it means nothing, overflow, unit typos, out of range.
    static let specific: [String: [String]] = [
        "LIFEGUARD_GRACE_PERIOD": ["0", "0s", "99999999999999999999", "9999999999h", "5sec", "5 s", "5d", "1e3", "1..5", "-0"],
        "LIFEGUARD_PROCESS_GROUP": ["2", "ture", "yes please", "99999999999999999999"],
        "LIFEGUARD_SERVER_ACCOUNT": ["2", "enabled", "on please", ""],
        "LIFEGUARD_SERVER_CHECK_INTERVAL": ["0", "99ms", "0.05", "99999999999999999999", "5 s", "5sec"],
        "LIFEGUARD_SHED_AT": ["0", "0M", "0%", "101%", "90 %", "%", "99999999999999999999", "offf", "auto", "90M/s"],
        "LIFEGUARD_MAX_REPLICA_LAG": ["-1", "of", "OFF ", "30 s", "30sec", "99999999999999999999"],
        "LIFEGUARD_SHED_MINIMUM": ["0", "0%", "101%", "off", "10 %", "99999999999999999999T", "10pc"],
        "LIFEGUARD_MEMORY_LIMIT": ["0", "0M", "0%", "101%", "95 %", "%", "99999999999999999999", "99999999999T", "240MBs",
                                   "1.5GiBi", "240 M", "240M/s", "autox"],
        "LIFEGUARD_HEADROOM": ["0", "0%", "101%", "5 %", "99999999999999999999T", "5pc", "5%%"],
        "LIFEGUARD_ON_MEMORY_LIMIT": ["0", "restarts", "Exit ", "stop"],
        "LIFEGUARD_ON_CRASH": ["0", "restarts", "ignore", "stop"],
        "LIFEGUARD_ON_CORRUPTION": ["1", "on", "restart", "resurect"],
        "LIFEGUARD_MAX_RESTARTS": ["1.5", "99999999999999999999", "1000001", "5x", "+5"],
        "LIFEGUARD_RESTART_EXIT_CODE": ["0", "256", "1.5", "99999999999999999999", "nil", "16x"],
        "LIFEGUARD_RESTART_WINDOW": ["0", "0ms", "99999999999999999999", "10mins", "10 m"],
        "LIFEGUARD_FILL_RATE": ["0", "0G/s", "99999999999999999999G/s", "4G/sec", "4G/m", "4GB/ss", "/s"],
        "LIFEGUARD_STOP_LATENCY": ["99999999999999999999", "20mss", "20 ms", "20us"],
        "LIFEGUARD_CGROUP_ROOT": ["sys/fs/cgroup", "./cgroup", "/sys/fs/cgroup/", "~/cgroup"],
        "LIFEGUARD_STATUS_FILE": ["status.json", "run/lifeguard/status.json", "/run/lifeguard/", "None"],
        "LIFEGUARD_STATUS_INTERVAL": ["0", "5ms", "99999999999999999999", "2secs", "2 s"],
        "LIFEGUARD_METRICS_FILE": ["metrics.prom", "none/", "/var/lib/node-exporter/"],
        "LIFEGUARD_READY_ADDRESS": ["localhost:3306", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "mysqld.sock", "host:port",
                                    "256.0.0.1:3306"],
        "LIFEGUARD_LOG_FORMAT": ["0", "text", "JSONL", "yaml"],
        "LIFEGUARD_LOG_LEVEL": ["0", "trace", "warning!", "verbose"],
    ]

    @Test("every variable has its own list of mistakes")
    func coverage() {
        #expect(Set(Configuration.settings.map(\.variable)) == Set(Self.specific.keys))
    }

    @Test("garbage, negative, empty, zero, overflow and unit typos: one clear error each",
          arguments: Configuration.settings.map(\.variable))
    func refuses(variable: String) throws {
        let setting = try #require(Configuration.settings.first { $0.variable == variable })
        for value in Self.universal + (Self.specific[variable] ?? []) {
            var configuration = Configuration()
            #expect(throws: ConfigurationError.invalid(variable, value: value, accepted: setting.accepted), "\(variable)=\(value)") {
                try configuration.apply(environment: [variable: value])
            }
            let message = ConfigurationError.invalid(variable, value: value, accepted: setting.accepted).message
            #expect(message.hasPrefix(variable + " ") && message.contains("expected") && !message.contains("\n"))
        }
    }

    @Test("the defaults written in the table (--help, the README) are the ones Lifeguard runs with")
    func defaultsParse() {
        for setting in Configuration.settings where !setting.defaultValue.hasPrefix("(") && !setting.defaultValue.hasPrefix("the ") {
            var configuration = Configuration()
            #expect(throws: Never.self, "\(setting.variable)=\(setting.defaultValue)") {
                try configuration.apply(environment: [setting.variable: setting.defaultValue])
            }
            // Applying the default text changes nothing: the table and the struct say the same default.
            #expect(configuration == Configuration(), "\(setting.variable)=\(setting.defaultValue)")
        }
    }
}
