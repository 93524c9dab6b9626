/// Everything `lifeguard` runs with, from `LIFEGUARD_*` variables and flags (flags win).
public struct Configuration: Sendable, Equatable {
    /// SIGTERM → this long → SIGKILL, for every stop (the article's 60 s).
    public var gracePeriod: Duration = .seconds(60)
    /// Forward signals to the child's process group instead of the child alone.
    public var signalProcessGroup = false
    /// The trigger: the working set at which the database is stopped.
    public var memoryLimit: TriggerSetting = .automatic
    /// What the hard limit keeps above an automatic trigger.
    public var headroom: Headroom = .percent(5)
    public var onMemoryLimit: MemoryLimitAction = .restart
    public var maxRestarts = 5
    /// The exit code that means "start me again" (MySQL's RESTART statement: 16); nil: none does.
    public var restartExitCode: Int32? = Supervisor.restartExitCode
    public var restartWindow: Duration = .seconds(600)
    /// Where cgroup filesystems are mounted (tests point it at fixture trees).
    public var cgroupRoot = "/sys/fs/cgroup"
    /// The growth rate, in bytes per second, the memory guard's sampling must win against.
    public var fillRate: UInt64 = 4 << 30
    /// How long the command keeps growing after SIGTERM: the guard fires earlier the faster memory grows.
    public var stopLatency: Duration = .milliseconds(20)
    /// The status file probes read; nil disables it (and the notify socket next to it).
    public var statusFile: String? = "/run/lifeguard/status.json"
    public var statusInterval: Duration = .seconds(2)
    public var metricsFile: String?
    /// Where readiness by handshake is checked; nil: the command's --socket, else the mysqld default.
    public var readyAddress: ReadyAddress?
    public var logFormat: LogFormat = .logfmt
    public var logLevel: LogLevel = .info
    /// COMMAND and its arguments.
    public var command: [String] = []
    /// `LIFEGUARD_*` names that no setting uses: logged as a warning, with the closest known name.
    public var unknownVariables: [String] = []

    public init() {}
}

/// A configuration mistake: Lifeguard prints `message` on one line and exits 2, before starting anything.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    /// "LIFEGUARD_GRACE_PERIOD="abc" is invalid: expected a duration: …"
    public static func invalid(_ source: String, value: String, accepted: String) -> ConfigurationError {
        let shown = value.isEmpty ? "is empty" : "= \(JSONText.quoted(value)) is invalid"
        return ConfigurationError("\(source) \(shown): expected \(accepted)")
    }

    public var description: String { message }
}

/// One configurable value: its variable, its flag, what it accepts and how it is applied.
/// The table drives parsing, `--help` and the README's configuration table alike.
public struct Setting: Sendable {
    public let variable: String
    public let flag: String?
    /// A flag without a value (`--process-group`); its variable takes a boolean.
    public let isSwitch: Bool
    public let defaultValue: String
    public let summary: String
    public let accepted: String
    let apply: @Sendable (inout Configuration, String) -> Bool

    init(_ variable: String, flag: String?, isSwitch: Bool = false, default defaultValue: String,
         accepted: String, _ summary: String, apply: @escaping @Sendable (inout Configuration, String) -> Bool) {
        self.variable = variable
        self.flag = flag
        self.isSwitch = isSwitch
        self.defaultValue = defaultValue
        self.summary = summary
        self.accepted = accepted
        self.apply = apply
    }
}

extension Configuration {
    /// Every setting Lifeguard knows, in the order `--help` lists them.
    public static let settings: [Setting] = [
        Setting("LIFEGUARD_GRACE_PERIOD", flag: "--grace-period", default: "60s",
                accepted: ValueParsers.durationAccepted,
                "How long a stopping child gets between SIGTERM and SIGKILL; also the wait for leftover processes.") {
            guard let value = ValueParsers.duration($1) else { return false }
            $0.gracePeriod = value
            return true
        },
        Setting("LIFEGUARD_PROCESS_GROUP", flag: "--process-group", isSwitch: true, default: "false",
                accepted: ValueParsers.booleanAccepted,
                "Send forwarded signals and the stop to the child's whole process group (-g).") {
            guard let value = ValueParsers.boolean($1) else { return false }
            $0.signalProcessGroup = value
            return true
        },
        Setting("LIFEGUARD_MEMORY_LIMIT", flag: "--memory-limit", default: "auto",
                accepted: ValueParsers.triggerAccepted,
                "The trigger: the working set (usage minus inactive file cache) at which the command is stopped gracefully. auto = hard limit less the headroom; off disables the guard.") {
            guard let value = ValueParsers.trigger($1) else { return false }
            $0.memoryLimit = value
            return true
        },
        Setting("LIFEGUARD_HEADROOM", flag: "--headroom", default: "5%", accepted: ValueParsers.headroomAccepted,
                "With an automatic trigger, what the hard limit keeps above it for the shutdown: 5% makes the trigger hard limit ÷ 1.05.") {
            guard let value = ValueParsers.headroom($1) else { return false }
            $0.headroom = value
            return true
        },
        Setting("LIFEGUARD_ON_MEMORY_LIMIT", flag: "--on-memory-limit", default: "restart", accepted: "restart or exit",
                "After a memory-triggered stop: start the command again (with backoff), or exit with code 75.") {
            guard let value = MemoryLimitAction(rawValue: $1) else { return false }
            $0.onMemoryLimit = value
            return true
        },
        Setting("LIFEGUARD_MAX_RESTARTS", flag: "--max-restarts", default: "5", accepted: ValueParsers.countAccepted,
                "Memory-triggered restarts allowed within the restart window; one more and Lifeguard exits with code 75.") {
            guard let value = ValueParsers.count($1), value <= 1_000_000 else { return false }
            $0.maxRestarts = value
            return true
        },
        Setting("LIFEGUARD_RESTART_EXIT_CODE", flag: "--restart-exit-code", default: "16",
                accepted: "an exit code from 1 to 255, or none",
                "An exit with this code starts the command again at once (MySQL's RESTART statement exits 16); none passes every code through.") {
            if $1 == "none" {
                $0.restartExitCode = nil
                return true
            }
            guard let value = ValueParsers.count($1), (1...255).contains(value) else { return false }
            $0.restartExitCode = Int32(value)
            return true
        },
        Setting("LIFEGUARD_RESTART_WINDOW", flag: "--restart-window", default: "10m",
                accepted: "a duration greater than zero: seconds (600) or with ms, s, m or h (10m)",
                "The window in which restarts are counted.") {
            guard let value = ValueParsers.duration($1), value > .zero else { return false }
            $0.restartWindow = value
            return true
        },
        Setting("LIFEGUARD_FILL_RATE", flag: "--fill-rate", default: "4G/s", accepted: ValueParsers.rateAccepted,
                "The fastest memory growth the guard must catch between two samples; higher samples more often near the limit.") {
            guard let value = ValueParsers.rate($1) else { return false }
            $0.fillRate = value
            return true
        },
        Setting("LIFEGUARD_STOP_LATENCY", flag: "--stop-latency", default: "20ms",
                accepted: ValueParsers.durationAccepted,
                "How long the command may keep growing after SIGTERM: the guard stops it below the trigger when, at the observed growth rate, the hard limit is closer than this.") {
            guard let value = ValueParsers.duration($1) else { return false }
            $0.stopLatency = value
            return true
        },
        Setting("LIFEGUARD_CGROUP_ROOT", flag: "--cgroup-root", default: "/sys/fs/cgroup", accepted: "an absolute path",
                "Where the cgroup filesystems are mounted.") {
            guard $1.hasPrefix("/") else { return false }
            $0.cgroupRoot = $1
            return true
        },
        Setting("LIFEGUARD_STATUS_FILE", flag: "--status-file", default: "/run/lifeguard/status.json",
                accepted: "an absolute path, or none",
                "The status file probes read, rewritten atomically; the notify socket is created next to it. none disables both.") {
            if $1 == "none" {
                $0.statusFile = nil
                return true
            }
            guard $1.hasPrefix("/"), !$1.hasSuffix("/") else { return false }
            $0.statusFile = $1
            return true
        },
        Setting("LIFEGUARD_STATUS_INTERVAL", flag: "--status-interval", default: "2s",
                accepted: "a duration greater than zero: seconds (2) or with ms, s, m or h (500ms)",
                "The status file is rewritten at least this often (and the memory limits re-read).") {
            guard let value = ValueParsers.duration($1), value >= .milliseconds(10) else { return false }
            $0.statusInterval = value
            return true
        },
        Setting("LIFEGUARD_METRICS_FILE", flag: "--metrics-file", default: "(none)", accepted: "an absolute path",
                "Also write the figures in Prometheus text format, for node-exporter's textfile collector.") {
            guard $1.hasPrefix("/"), !$1.hasSuffix("/") else { return false }
            $0.metricsFile = $1
            return true
        },
        Setting("LIFEGUARD_READY_ADDRESS", flag: "--ready-address", default: "the command's --socket, else /var/run/mysqld/mysqld.sock",
                accepted: ReadyAddress.accepted,
                "Where readiness is checked by the MySQL handshake when the command does not say READY=1 (sd_notify).") {
            guard let value = ReadyAddress($1) else { return false }
            $0.readyAddress = value
            return true
        },
        Setting("LIFEGUARD_LOG_FORMAT", flag: "--log-format", default: "logfmt", accepted: "logfmt or json",
                "Log line format on stderr.") {
            guard let value = LogFormat(rawValue: $1) else { return false }
            $0.logFormat = value
            return true
        },
        Setting("LIFEGUARD_LOG_LEVEL", flag: "--log-level", default: "info", accepted: "debug, info, warn or error",
                "Lowest level logged.") {
            guard let value = LogLevel(name: $1) else { return false }
            $0.logLevel = value
            return true
        },
    ]

    /// Applies every `LIFEGUARD_*` variable in `environment`; unknown names are collected, not fatal.
    public mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        for setting in Configuration.settings {
            guard let value = environment[setting.variable] else { continue }
            guard setting.apply(&self, value) else {
                throw .invalid(setting.variable, value: value, accepted: setting.accepted)
            }
        }
        let known = Set(Configuration.settings.map(\.variable))
        unknownVariables = environment.keys.filter { $0.hasPrefix("LIFEGUARD_") && !known.contains($0) }.sorted()
    }

    /// The known variable closest to a misspelt one ("LIFEGUARD_GRACE_PERIOD" for "LIFEGUARD_GRACEPERIOD").
    public static func suggestion(for unknown: String) -> String? {
        let candidates = settings.map { ($0.variable, editDistance($0.variable, unknown)) }
        guard let best = candidates.min(by: { $0.1 < $1.1 }), best.1 <= 4 else { return nil }
        return best.0
    }
}

/// Levenshtein distance over bytes: enough for ASCII variable names.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8)
    let b = Array(b.utf8)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        previous = current
    }
    return previous[b.count]
}
