import Glibc
import LifeguardSystem

/// `lifeguard status [--json] [PATH...]`: the status for people. No path: this container's file. A
/// file: that file. Directories: a fleet table, one row per status file found in each directory or
/// in its subdirectories (one per container: the status directory bind-mounted from the host), read
/// without a single call to the Docker daemon. Exits 1 when a file is missing, unreadable or stale.
public enum StatusCommand {
    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        var json = false
        var paths: [String] = []
        for argument in arguments {
            switch argument {
            case "--json": json = true
            case "-h", "--help":
                print("usage: lifeguard status [--json] [FILE | DIRECTORY...]")
                return 0
            default:
                if argument.hasPrefix("-") {
                    print("status: unknown option \(argument); usage: lifeguard status [--json] [FILE | DIRECTORY...]")
                    return 1
                }
                paths.append(argument)
            }
        }
        if paths.isEmpty { paths = [environment["LIFEGUARD_STATUS_FILE"] ?? StatusFiles.defaultPath] }
        let files = paths.flatMap(statusFiles(in:))
        if json {
            let texts = files.map { (try? FileDescriptor.readText($0.path, limit: 64 * 1024)) ?? "null\n" }
            print(files.count == 1 && paths.count == 1 && !FileSystem.isDirectory(paths[0]) ? texts[0] : "[\n" + texts.joined(separator: ",\n") + "]", terminator: "")
            return texts.contains("null\n") ? 1 : 0
        }
        if files.count == 1, paths.count == 1, !FileSystem.isDirectory(paths[0]) { return describe(file: files[0].path) }
        return table(files)
    }

    /// (name, path) of the status files a path names: itself, DIR/status.json, or DIR/*/status.json.
    static func statusFiles(in path: String) -> [(name: String, path: String)] {
        let name = String(path.split(separator: "/").last ?? Substring(path))
        guard FileSystem.isDirectory(path) else { return [(name, path)] }
        if FileSystem.exists(path + "/status.json") { return [(name, path + "/status.json")] }
        let children = (try? FileSystem.entries(of: path)) ?? []
        return children.filter { !$0.hasPrefix(".") && FileSystem.isDirectory(path + "/" + $0) }.sorted()
            .map { ($0, path + "/" + $0 + "/status.json") }
    }

    /// One file, as aligned "key  value" lines.
    static func describe(file: String) -> Int32 {
        guard let text = try? FileDescriptor.readText(file, limit: 64 * 1024), let status = Status(json: text) else {
            print("\(file): missing or not a Lifeguard status file")
            return 1
        }
        let age = StatusAge.age(of: status, currentBootID: StatusAge.currentBootID())
        let rows = rows(for: status, age: age)
        let width = rows.map(\.0.count).max() ?? 0
        for (key, value) in rows { print(key + String(repeating: " ", count: width - key.count + 2) + value) }
        return age > max(.seconds(10), status.statusInterval * 3) ? 1 : 0
    }

    /// One file's "key  value" rows (whatever it holds: the fuzzer feeds it garbage).
    static func rows(for status: Status, age: Duration) -> [(String, String)] {
        let memory = status.memory
        var rows: [(String, String)] = [
            ("state", status.state.rawValue + (status.readiness.map { " (by \($0))" } ?? "")
                + (status.exitCode.map { ", exit code \($0)" } ?? "")),
            ("command", (status.command ?? "-") + (status.childPID.map { " (pid \($0))" } ?? "")),
            ("restarts", "\(status.restarts) (memory stops \(status.memoryStops))"),
        ]
        if let version = status.serverVersion { rows.append(("server", version)) }
        if let text = status.serverStatus { rows.append(("server status", text)) }
        rows.append(("unreclaimable", ByteCount.describe(memory.unreclaimable) + percent(memory.unreclaimable, of: memory.trigger, "trigger")))
        rows.append(("working set", ByteCount.describe(memory.workingSet) + " (the kubelet's figure: active page cache included)"))
        rows.append(("usage", ByteCount.describe(memory.usage) + ", page cache " + ByteCount.describe(memory.fileCache)
            + " (dirty " + ByteCount.describe(memory.dirty) + ")"))
        rows.append(("trigger", ByteCount.describe(memory.trigger) + " (guard \(memory.guardState)" + (memory.guardReason.map { ": \($0)" } ?? "") + ")"))
        rows.append(("limit", ByteCount.describe(memory.limit) + ", soft limit " + ByteCount.describe(memory.softLimit)))
        rows.append(("cgroup", (memory.cgroupVersion ?? "none") + (memory.cgroup.map { " \($0)" } ?? "")))
        rows.append(("kernel OOM kills", memory.kernelOOMKills.map(String.init) ?? "-"))
        if let event = status.lastEvent { rows.append(("last event", "\(event.reason) at \(event.at.rfc3339()): \(event.detail)")) }
        if let resurrect = status.resurrect { rows.append(("resurrect", resurrect.description)) }
        if let replication = status.replication { rows.append(("replication", replication.description)) }
        rows.append(("updated", "\(status.updatedAt.rfc3339()), \(StatusAge.describe(age)) ago"))
        rows.append(("lifeguard", "\(status.version), pid \(status.lifeguardPID), started \(status.startedAt.rfc3339())"))
        return rows
    }

    /// Many containers, one row each.
    static func table(_ files: [(name: String, path: String)]) -> Int32 {
        let bootID = StatusAge.currentBootID()
        var rows = [["NAME", "STATE", "UNRECLAIMABLE", "WORKING SET", "TRIGGER", "LIMIT", "RESTARTS", "MEM STOPS", "OOM KILLS", "UPDATED"]]
        var problems = 0
        for (name, path) in files {
            guard let text = try? FileDescriptor.readText(path, limit: 64 * 1024), let status = Status(json: text) else {
                rows.append([name, "missing", "-", "-", "-", "-", "-", "-", "-", "-"])
                problems += 1
                continue
            }
            let (row, problem) = tableRow(name: name, status: status, age: StatusAge.age(of: status, currentBootID: bootID))
            rows.append(row)
            if problem { problems += 1 }
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            var line = zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            print(line)
        }
        return problems == 0 && !files.isEmpty ? 0 : 1
    }

    /// One container's row, and whether it is a problem (stale, or the command exited).
    static func tableRow(name: String, status: Status, age: Duration) -> ([String], Bool) {
        let stale = age > max(.seconds(10), status.statusInterval * 3)
        let memory = status.memory
        return ([name, stale ? "STALE" : status.state.rawValue,
                 ByteCount.describe(memory.unreclaimable) + percent(memory.unreclaimable, of: memory.trigger, nil),
                 ByteCount.describe(memory.workingSet), ByteCount.describe(memory.trigger), ByteCount.describe(memory.limit), String(status.restarts),
                 String(status.memoryStops), memory.kernelOOMKills.map(String.init) ?? "-",
                 StatusAge.describe(age) + " ago"], stale || status.state == .exited)
    }

    static func percent(_ value: UInt64?, of total: UInt64?, _ label: String?) -> String {
        guard let value, let total, total > 0 else { return "" }
        let percent = min(Double(value) / Double(total) * 100, 99_999)
        return " (\(Int(percent))%" + (label.map { " of the \($0)" } ?? "") + ")"
    }
}
