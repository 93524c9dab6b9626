import Glibc

/// What `state` says, for probes and people.
public enum ServiceState: String, Sendable, Equatable, CaseIterable {
    /// The command runs but has not said (sd_notify) or shown (handshake) that it accepts connections.
    /// A liveness probe passes: InnoDB crash recovery must not be killed.
    case starting
    case ready
    /// A graceful stop is under way (Lifeguard's, or the server's own shutdown).
    case stopping
    /// Between a stop and the next start.
    case restarting
    case exited
}

/// The status file's content. Field names are the contract with probes, dashboards and the fleet view;
/// no environment value and no command-line argument is ever written (only the command's name).
public struct Status: Equatable, Sendable {
    public struct Memory: Equatable, Sendable {
        public var cgroupVersion: CgroupVersion?
        public var cgroup: String?
        /// "on" or "off".
        public var guardState: String = "off"
        /// Why the guard is off, when it is.
        public var guardReason: String?
        public var usage: UInt64?
        public var workingSet: UInt64?
        public var limit: UInt64?
        public var softLimit: UInt64?
        public var high: UInt64?
        public var trigger: UInt64?
        public var kernelOOMKills: UInt64?

        public init() {}
    }

    public struct Event: Equatable, Sendable {
        /// A short machine-readable word: started, memory_limit, stop_signal, child_exited, restart,
        /// restart_limit, kernel_oom_kill, ready, exited, …
        public var reason: String
        public var at: WallClockTime
        public var detail: String

        public init(reason: String, at: WallClockTime, detail: String) {
            self.reason = reason
            self.at = at
            self.detail = detail
        }
    }

    public var version = LifeguardVersion.string
    public var state: ServiceState = .starting
    public var lifeguardPID: pid_t = 0
    public var childPID: pid_t?
    /// The command's name (argv[0]'s last component), never its arguments.
    public var command: String?
    public var restarts = 0
    public var memoryStops = 0
    public var startedAt = WallClockTime(secondsSinceEpoch: 0)
    public var updatedAt = WallClockTime(secondsSinceEpoch: 0)
    /// `updatedAt` on CLOCK_MONOTONIC, with the boot it belongs to: staleness that ignores wall-clock jumps.
    public var updatedMonotonic: MonotonicInstant?
    public var bootID: String?
    public var statusInterval: Duration = .seconds(2)
    public var readiness: String?
    public var readySince: WallClockTime?
    public var serverVersion: String?
    /// The server's own STATUS= text (sd_notify).
    public var serverStatus: String?
    public var exitCode: Int32?
    public var memory = Memory()
    public var lastEvent: Event?

    public init() {}

    // MARK: - JSON

    public var json: String {
        var memoryObject = JSONObjectWriter(indent: 2)
        memoryObject.add("cgroup_version", memory.cgroupVersion?.rawValue)
        memoryObject.add("cgroup", memory.cgroup)
        memoryObject.add("guard", memory.guardState)
        memoryObject.add("guard_reason", memory.guardReason)
        memoryObject.add("usage_bytes", memory.usage)
        memoryObject.add("working_set_bytes", memory.workingSet)
        memoryObject.add("limit_bytes", memory.limit)
        memoryObject.add("soft_limit_bytes", memory.softLimit)
        memoryObject.add("high_bytes", memory.high)
        memoryObject.add("trigger_bytes", memory.trigger)
        memoryObject.add("kernel_oom_kills", memory.kernelOOMKills)
        var eventObject: JSONObjectWriter?
        if let lastEvent {
            var object = JSONObjectWriter(indent: 2)
            object.add("reason", lastEvent.reason)
            object.add("at", lastEvent.at.rfc3339())
            object.add("detail", lastEvent.detail)
            eventObject = object
        }
        var root = JSONObjectWriter()
        root.add("version", version)
        root.add("state", state.rawValue)
        root.add("pid", lifeguardPID)
        root.add("child_pid", childPID)
        root.add("command", command)
        root.add("restarts", restarts)
        root.add("memory_stops", memoryStops)
        root.add("started_at", startedAt.rfc3339())
        root.add("updated_at", updatedAt.rfc3339())
        root.add("updated_monotonic_ns", updatedMonotonic?.nanoseconds)
        root.add("boot_id", bootID)
        root.add("status_interval_s", statusInterval.seconds)
        root.add("readiness", readiness)
        root.add("ready_since", readySince?.rfc3339())
        root.add("server_version", serverVersion)
        root.add("server_status", serverStatus)
        root.add("exit_code", exitCode)
        root.add("memory", object: memoryObject)
        root.add("last_event", object: eventObject)
        return root.text + "\n"
    }

    /// Reads a status file's JSON back; nil when it is not one (garbage, truncated, no state).
    public init?(json text: String) {
        guard let root = JSONValue.parse(text), let stateName = root["state"]?.string,
              let state = ServiceState(rawValue: stateName),
              let updated = root["updated_at"]?.string.flatMap(WallClockTime.parseRFC3339) else { return nil }
        self.state = state
        updatedAt = updated
        version = root["version"]?.string ?? "unknown"
        lifeguardPID = pid_t(root["pid"]?.number ?? 0)
        childPID = root["child_pid"]?.number.map { pid_t($0) }
        command = root["command"]?.string
        restarts = Int(root["restarts"]?.number ?? 0)
        memoryStops = Int(root["memory_stops"]?.number ?? 0)
        startedAt = root["started_at"]?.string.flatMap(WallClockTime.parseRFC3339) ?? updated
        updatedMonotonic = root["updated_monotonic_ns"]?.number.map { MonotonicInstant(nanoseconds: Int64($0)) }
        bootID = root["boot_id"]?.string
        statusInterval = .milliseconds(Int64((root["status_interval_s"]?.number ?? 2) * 1000))
        readiness = root["readiness"]?.string
        readySince = root["ready_since"]?.string.flatMap(WallClockTime.parseRFC3339)
        serverVersion = root["server_version"]?.string
        serverStatus = root["server_status"]?.string
        exitCode = root["exit_code"]?.number.map { Int32($0) }
        if let object = root["memory"] {
            memory.cgroupVersion = object["cgroup_version"]?.string.flatMap(CgroupVersion.init(rawValue:))
            memory.cgroup = object["cgroup"]?.string
            memory.guardState = object["guard"]?.string ?? "off"
            memory.guardReason = object["guard_reason"]?.string
            func bytes(_ key: String) -> UInt64? { object[key]?.number.flatMap { $0 >= 0 ? UInt64($0) : nil } }
            memory.usage = bytes("usage_bytes")
            memory.workingSet = bytes("working_set_bytes")
            memory.limit = bytes("limit_bytes")
            memory.softLimit = bytes("soft_limit_bytes")
            memory.high = bytes("high_bytes")
            memory.trigger = bytes("trigger_bytes")
            memory.kernelOOMKills = bytes("kernel_oom_kills")
        }
        if let event = root["last_event"], let reason = event["reason"]?.string {
            lastEvent = Event(reason: reason, at: event["at"]?.string.flatMap(WallClockTime.parseRFC3339) ?? updated,
                              detail: event["detail"]?.string ?? "")
        }
    }
}
