import LifeguardSystem

/// The status in Prometheus text exposition format, for node-exporter's textfile collector:
/// Lifeguard itself never opens a listening socket. Every sample carries `instance` (the container's
/// hostname), so one textfile directory collects a whole host's containers without duplicate series.
public enum MetricsText {
    public static func render(_ status: Status) -> String {
        var lines: [String] = []
        let instance = status.instance.map { "instance=\"\(labelValue($0))\"" }
        func metric(_ name: String, _ help: String, _ type: String, _ samples: [(String, Double?)]) {
            let present = samples.compactMap { labels, value in value.map { (labels, $0) } }
            guard !present.isEmpty else { return }
            lines.append("# HELP lifeguard_\(name) \(help)")
            lines.append("# TYPE lifeguard_\(name) \(type)")
            for (own, value) in present {
                let labels = [instance, own.isEmpty ? nil : own].compactMap { $0 }.joined(separator: ",")
                lines.append("lifeguard_\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(JSONText.number(value))")
            }
        }
        let memory = status.memory
        metric("info", "Lifeguard version and cgroup.", "gauge",
               [("version=\"\(labelValue(status.version))\",cgroup_version=\"\(memory.cgroupVersion ?? "none")\"", 1)])
        metric("state", "1 for the current state of the supervised command.", "gauge",
               ServiceState.allCases.map { ("state=\"\($0.rawValue)\"", $0 == status.state ? 1 : 0) })
        metric("restarts_total", "Restarts of the command since Lifeguard started.", "counter", [("", Double(status.restarts))])
        metric("memory_stops_total", "Graceful stops triggered by the memory guard.", "counter", [("", Double(status.memoryStops))])
        metric("shed_kills_total", "Statements or connections the shed killed to keep the database below its trigger.", "counter",
               [("", Double(status.shedKills))])
        metric("replica_current", "A replica: 1 while both threads run within the maximum lag (its readiness), else 0.", "gauge",
               [("", status.replication.map { $0.state == .current ? 1 : 0 })])
        metric("replica_seconds_behind", "A replica's Seconds_Behind_Master; absent while its SQL thread is stopped.", "gauge",
               [("", status.replication?.secondsBehind.map { Double($0) })])
        metric("kernel_oom_kills_total", "Processes in the container killed by the kernel OOM killer.", "counter",
               [("", memory.kernelOOMKills.map { Double($0) })])
        metric("memory_usage_bytes", "Cgroup memory usage, page cache included.", "gauge", [("", memory.usage.map { Double($0) })])
        metric("memory_unreclaimable_bytes", "Memory the kernel cannot reclaim without killing (what the guard decides on).", "gauge",
               [("", memory.unreclaimable.map { Double($0) })])
        metric("memory_working_set_bytes", "The kubelet's working set: usage minus inactive file cache.", "gauge",
               [("", memory.workingSet.map { Double($0) })])
        metric("memory_file_cache_bytes", "Page cache on the file LRU lists.", "gauge", [("", memory.fileCache.map { Double($0) })])
        metric("memory_dirty_bytes", "Dirty and writeback page cache.", "gauge", [("", memory.dirty.map { Double($0) })])
        metric("memory_limit_bytes", "Effective hard limit.", "gauge", [("", memory.limit.map { Double($0) })])
        metric("memory_soft_limit_bytes", "Soft limit (memory.soft_limit_in_bytes or memory.low).", "gauge",
               [("", memory.softLimit.map { Double($0) })])
        metric("memory_trigger_bytes", "Unreclaimable memory at which the command is stopped.", "gauge", [("", memory.trigger.map { Double($0) })])
        metric("memory_shed_level_bytes", "Unreclaimable memory from which the shed kills the connection holding the most.", "gauge",
               [("", memory.shedLevel.map { Double($0) })])
        metric("memory_guard_on", "1 when the memory guard is armed.", "gauge", [("", memory.guardState == "on" ? 1 : 0)])
        metric("status_updated_timestamp_seconds", "When this file was written.", "gauge",
               [("", Double(status.updatedAt.secondsSinceEpoch) + Double(status.updatedAt.nanoseconds) / 1e9)])
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value as the text format wants it: backslash, double quote and line feed escaped.
    static func labelValue(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
