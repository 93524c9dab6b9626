import Glibc
import LifeguardSystem

/// What `state` says, for probes and people.
public enum ServiceState: String, Sendable, Equatable, CaseIterable {
    /// The command runs but has not said (sd_notify) or shown (handshake) that it accepts connections.
    /// A liveness probe passes: InnoDB crash recovery must not be killed.
    case starting
    case ready
    /// Was ready, but Lifeguard's own connection has had no answer several times in a row (a wedged
    /// server): readiness fails, liveness passes (a busy server is not killed for being slow).
    case unresponsive
    /// Ready, but a replica that is not current: a replication thread stopped, or more lag than
    /// LIFEGUARD_MAX_REPLICA_LAG. Readiness fails (reads go to current replicas), liveness passes.
    case replicaBehind = "replica_behind"
    /// A graceful stop is under way (Lifeguard's, or the server's own shutdown).
    case stopping
    /// Between a stop and the next start.
    case restarting
    /// The server kept dying during its start: `resurrect` runs on the datadir (LIFEGUARD_ON_CORRUPTION).
    /// A liveness probe passes: a resurrect takes as long as a dump and an import.
    case resurrecting
    case exited
}

/// The status file's content. Field names are the contract with probes, dashboards and the fleet view;
/// no environment value and no command-line argument is ever written (only the command's name).
public struct Status: Equatable, Sendable {
    public struct Memory: Equatable, Sendable {
        /// "v1" or "v2".
        public var cgroupVersion: String?
        public var cgroup: String?
        /// "on" or "off".
        public var guardState: String = "off"
        /// Why the guard is off, when it is.
        public var guardReason: String?
        public var usage: UInt64?
        /// What the guard decides on: memory the kernel cannot take back without killing.
        public var unreclaimable: UInt64?
        /// The kubelet's and cAdvisor's working set (usage − inactive file cache), for comparison.
        public var workingSet: UInt64?
        /// The page cache on the file LRU lists, and the dirty and writeback part of it.
        public var fileCache: UInt64?
        public var dirty: UInt64?
        public var limit: UInt64?
        public var softLimit: UInt64?
        public var high: UInt64?
        public var trigger: UInt64?
        /// Where the shed begins; nil when it is off.
        public var shedLevel: UInt64?
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
    /// The container's hostname (a pod's name, a container's --hostname or short id): the metrics'
    /// `instance` label, which tells one host's containers apart.
    public var instance: String?
    public var restarts = 0
    public var memoryStops = 0
    /// Connections or statements the shed killed since Lifeguard started.
    public var shedKills = 0
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
    /// The datadir's last resurrect, while its report is beside the status file.
    public var resurrect: ResurrectSummary?
    /// A ready replica's replication (nil: not a replica, or not checked).
    public var replication: ReplicationSummary?

    public init() {}

    // MARK: - JSON

    public var json: String {
        var writer = ByteWriter()
        encode(into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The status file's text, pretty-printed with two spaces, written into `writer` (reset first).
    public func encode(into writer: inout ByteWriter) {
        writer.reset()
        var first = true
        func key(_ name: StaticString, _ indent: StaticString = "  ") {
            writer.append(first ? "\n" : ",\n")
            first = false
            writer.append(indent)
            writer.append("\"")
            writer.append(name)
            writer.append("\": ")
        }
        func string(_ value: String?) {
            if let value { writer.appendJSONString(value) } else { writer.append("null") }
        }
        func number(_ value: UInt64?) {
            if let value { writer.append(value) } else { writer.append("null") }
        }
        func integer(_ value: Int64?) {
            if let value { writer.append(value) } else { writer.append("null") }
        }
        func time(_ value: WallClockTime?) {
            if let value {
                writer.append("\"")
                writer.appendRFC3339(value)
                writer.append("\"")
            } else {
                writer.append("null")
            }
        }
        writer.append("{")
        key("version"); string(version)
        key("state"); string(state.rawValue)
        key("pid"); integer(Int64(lifeguardPID))
        key("child_pid"); integer(childPID.map(Int64.init))
        key("command"); string(command)
        key("instance"); string(instance)
        key("restarts"); integer(Int64(restarts))
        key("memory_stops"); integer(Int64(memoryStops))
        key("shed_kills"); integer(Int64(shedKills))
        key("started_at"); time(startedAt)
        key("updated_at"); time(updatedAt)
        key("updated_monotonic_ns"); integer(updatedMonotonic?.nanoseconds)
        key("boot_id"); string(bootID)
        key("status_interval_s"); writer.append(milliseconds: statusInterval.nanoseconds / 1_000_000)
        key("readiness"); string(readiness)
        key("ready_since"); time(readySince)
        key("server_version"); string(serverVersion)
        key("server_status"); string(serverStatus)
        key("exit_code"); integer(exitCode.map(Int64.init))
        /// A nested object (its fields indented under `name`), or null.
        func object(_ name: StaticString, _ present: Bool, _ fields: () -> Void) {
            key(name)
            if present {
                writer.append("{")
                first = true
                fields()
                writer.append("\n  }")
            } else {
                writer.append("null")
            }
            first = false
        }
        object("memory", true) {
            key("cgroup_version", "    "); string(memory.cgroupVersion)
            key("cgroup", "    "); string(memory.cgroup)
            key("guard", "    "); string(memory.guardState)
            key("guard_reason", "    "); string(memory.guardReason)
            key("usage_bytes", "    "); number(memory.usage)
            key("unreclaimable_bytes", "    "); number(memory.unreclaimable)
            key("working_set_bytes", "    "); number(memory.workingSet)
            key("file_cache_bytes", "    "); number(memory.fileCache)
            key("dirty_bytes", "    "); number(memory.dirty)
            key("limit_bytes", "    "); number(memory.limit)
            key("soft_limit_bytes", "    "); number(memory.softLimit)
            key("high_bytes", "    "); number(memory.high)
            key("trigger_bytes", "    "); number(memory.trigger)
            key("shed_level_bytes", "    "); number(memory.shedLevel)
            key("kernel_oom_kills", "    "); number(memory.kernelOOMKills)
        }
        object("last_event", lastEvent != nil) {
            key("reason", "    "); string(lastEvent?.reason)
            key("at", "    "); time(lastEvent?.at)
            key("detail", "    "); string(lastEvent?.detail)
        }
        object("resurrect", resurrect != nil) {
            key("outcome", "    "); string(resurrect?.outcome)
            key("exit_code", "    "); integer(resurrect?.exitCode.map(Int64.init))
            key("finished_at", "    "); time(resurrect?.finishedAt)
            key("kept", "    "); string(resurrect?.kept)
            key("lost_tables", "    "); integer(resurrect.map { Int64($0.lostTables) })
        }
        object("replication", replication != nil) {
            key("state", "    "); string(replication?.state.rawValue)
            key("io_running", "    "); string(replication?.ioRunning)
            key("sql_running", "    "); string(replication?.sqlRunning)
            key("seconds_behind", "    "); number(replication?.secondsBehind)
            key("max_lag_s", "    "); number(replication?.maxLag)
            key("reason", "    "); string(replication?.reason)
        }
        writer.append("\n}\n")
    }

    /// A JSON number as a whole number of type T; nil when it is not finite or does not fit (a
    /// corrupted or foreign file must make the probe fail, never crash it).
    static func whole<T: FixedWidthInteger>(_ number: Double?) -> T? {
        guard let number, number.isFinite else { return nil }
        return T(exactly: number.rounded(.towardZero))
    }

    /// Reads a status file's JSON back; nil when it is not one (garbage, truncated, no state).
    public init?(json text: String) {
        guard let root = JSONValue.parse(text), let stateName = root["state"]?.string,
              let state = ServiceState(rawValue: stateName),
              let updated = root["updated_at"]?.string.flatMap(WallClockTime.parseRFC3339) else { return nil }
        self.state = state
        updatedAt = updated
        version = root["version"]?.string ?? "unknown"
        lifeguardPID = Status.whole(root["pid"]?.number) ?? 0
        childPID = Status.whole(root["child_pid"]?.number)
        command = root["command"]?.string
        instance = root["instance"]?.string
        restarts = (Status.whole(root["restarts"]?.number) as UInt32?).map(Int.init) ?? 0
        memoryStops = (Status.whole(root["memory_stops"]?.number) as UInt32?).map(Int.init) ?? 0
        shedKills = (Status.whole(root["shed_kills"]?.number) as UInt32?).map(Int.init) ?? 0
        startedAt = root["started_at"]?.string.flatMap(WallClockTime.parseRFC3339) ?? updated
        updatedMonotonic = Status.whole(root["updated_monotonic_ns"]?.number).map { MonotonicInstant(nanoseconds: $0) }
        bootID = root["boot_id"]?.string
        statusInterval = .milliseconds(Status.whole((root["status_interval_s"]?.number ?? 2) * 1000) ?? 2000)
        readiness = root["readiness"]?.string
        readySince = root["ready_since"]?.string.flatMap(WallClockTime.parseRFC3339)
        serverVersion = root["server_version"]?.string
        serverStatus = root["server_status"]?.string
        exitCode = Status.whole(root["exit_code"]?.number)
        if let object = root["memory"] {
            memory.cgroupVersion = object["cgroup_version"]?.string
            memory.cgroup = object["cgroup"]?.string
            memory.guardState = object["guard"]?.string ?? "off"
            memory.guardReason = object["guard_reason"]?.string
            func bytes(_ key: String) -> UInt64? { Status.whole(object[key]?.number) }
            memory.usage = bytes("usage_bytes")
            memory.unreclaimable = bytes("unreclaimable_bytes")
            memory.workingSet = bytes("working_set_bytes")
            memory.fileCache = bytes("file_cache_bytes")
            memory.dirty = bytes("dirty_bytes")
            memory.limit = bytes("limit_bytes")
            memory.softLimit = bytes("soft_limit_bytes")
            memory.high = bytes("high_bytes")
            memory.trigger = bytes("trigger_bytes")
            memory.shedLevel = bytes("shed_level_bytes")
            memory.kernelOOMKills = bytes("kernel_oom_kills")
        }
        if let event = root["last_event"], let reason = event["reason"]?.string {
            lastEvent = Event(reason: reason, at: event["at"]?.string.flatMap(WallClockTime.parseRFC3339) ?? updated,
                              detail: event["detail"]?.string ?? "")
        }
        resurrect = root["resurrect"].flatMap(ResurrectSummary.init(json:))
        replication = root["replication"].flatMap(ReplicationSummary.init(json:))
    }
}
