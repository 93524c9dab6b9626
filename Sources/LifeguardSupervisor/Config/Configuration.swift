import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Everything `lifeguard` runs with, from `LIFEGUARD_*` variables and flags (flags win).
public struct Configuration: Sendable, Equatable {
    /// SIGTERM → this long → SIGKILL, for every stop. 60 s by default, as in "the article" (OVH's account
    /// of running its hosted MySQL databases in Docker, where the offer + 5 % hard limit, the SIGTERM at
    /// the offer and the SIGKILL 60 s later come from; the README names it too).
    public var gracePeriod: Duration = .seconds(60)
    /// Forward signals to the child's process group instead of the child alone.
    public var signalProcessGroup = false
    /// The trigger: the unreclaimable memory at which the database is stopped.
    public var memoryLimit: TriggerSetting = .automatic
    /// What the hard limit keeps above an automatic trigger.
    public var headroom: Headroom = .percent(5)
    public var onMemoryLimit: MemoryLimitAction = .restart
    /// After a crash (killed by a signal Lifeguard did not send): exit with 128+N, or start again.
    public var onCrash: CrashAction = .exit
    public var onCorruption: CorruptionAction = .exit
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
    public var statusFile: String? = StatusFiles.defaultPath
    public var statusInterval: Duration = .seconds(2)
    public var metricsFile: String?
    /// Where readiness by handshake is checked; nil: the command's --socket, else the mysqld default.
    public var readyAddress: ReadyAddress?
    /// Lifeguard's own connection to the server (`ServerLink`), and the entrypoint's account for it.
    public var serverAccount = false
    /// How often Lifeguard's connection pings the ready server, and how long each answer may take.
    public var serverCheckInterval: Duration = .seconds(5)
    /// A replica is ready only this close to its primary (`ReplicaCheck`); nil: replication is not checked.
    public var maxReplicaLag: Duration? = .seconds(30)
    /// Where the shed begins, and the least a connection must hold to be killed (`Shedder`).
    public var shedAt: ShedSetting = .percentOfTrigger(90)
    public var shedMinimum: ShedSetting = .percentOfTrigger(10)
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

    /// A setting whose text `parse` turns into the value at `keyPath` (nil: not accepted).
    init<Value>(_ variable: String, flag: String?, isSwitch: Bool = false, default defaultValue: String,
                accepted: String, _ summary: String, parse: @escaping @Sendable (String) -> Value?,
                into keyPath: any WritableKeyPath<Configuration, Value> & Sendable) {
        self.variable = variable
        self.flag = flag
        self.isSwitch = isSwitch
        self.defaultValue = defaultValue
        self.summary = summary
        self.accepted = accepted
        self.apply = { configuration, text in
            guard let value = parse(text) else { return false }
            configuration[keyPath: keyPath] = value
            return true
        }
    }
}

extension Configuration {
    /// Applies every `LIFEGUARD_*` variable in `environment`; unknown names are collected, not fatal.
    public mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        for setting in Configuration.settings {
            guard let value = environment[setting.variable] else { continue }
            guard setting.apply(&self, value) else {
                throw .invalid(setting.variable, value: value, accepted: setting.accepted)
            }
        }
        let known = Set(Configuration.settings.map(\.variable))
        // LIFEGUARD_MYSQLD_* are server settings for render-config, LIFEGUARD_OFFER is render-config's too,
        // LIFEGUARD_SERVER_CONFIG the entrypoint's, LIFEGUARD_RESURRECT_* the resurrect script's.
        unknownVariables = environment.keys.filter {
            $0.hasPrefix("LIFEGUARD_") && !known.contains($0) && !$0.hasPrefix("LIFEGUARD_MYSQLD_")
                && !$0.hasPrefix("LIFEGUARD_RESURRECT_") && $0 != "LIFEGUARD_OFFER" && $0 != "LIFEGUARD_SERVER_CONFIG"
        }.sorted()
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
