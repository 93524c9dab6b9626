import Glibc
import LifeguardSystem

/// The last `resurrect` of this container's datadir, as the status file's `resurrect` entry carries it.
/// The resurrect script writes its report beside the status file (`resurrect.json`), and the entrypoint
/// copies the datadir's last report there at each start, so the fleet view shows, host-side, which
/// instances were resurrected, when, and with what loss, for as long as the original is kept.
public struct ResurrectSummary: Equatable, Sendable {
    /// The report's name beside the status file (resurrect/report.sh writes it under this name).
    public static let fileName = "resurrect.json"

    /// nothing_to_do, resurrected, resurrected_with_losses, could_not or interrupted.
    public var outcome: String
    public var exitCode: Int32?
    public var finishedAt: WallClockTime?
    /// Where the original datadir is kept (nil: nothing was switched).
    public var kept: String?
    public var lostTables: Int

    public init(outcome: String, exitCode: Int32? = nil, finishedAt: WallClockTime? = nil, kept: String? = nil, lostTables: Int = 0) {
        self.outcome = outcome
        self.exitCode = exitCode
        self.finishedAt = finishedAt
        self.kept = kept
        self.lostTables = lostTables
    }

    /// From the script's report (`lost` is a list) or from a status file's entry (`lost_tables`).
    public init?(json value: JSONValue) {
        guard let outcome = value["outcome"]?.string else { return nil }
        self.outcome = outcome
        exitCode = Status.whole(value["exit_code"]?.number)
        finishedAt = value["finished_at"]?.string.flatMap(WallClockTime.parseRFC3339)
        kept = value["kept"]?.string
        if case .array(let lost)? = value["lost"] {
            lostTables = lost.count
        } else {
            lostTables = (Status.whole(value["lost_tables"]?.number) as UInt32?).map(Int.init) ?? 0
        }
    }

    /// One line for people: "resurrected_with_losses (exit 11) at …: 1 table lost, the original kept in …".
    public var description: String {
        var text = outcome + (exitCode.map { " (exit \($0))" } ?? "") + (finishedAt.map { " at \($0.rfc3339())" } ?? "")
        var facts: [String] = []
        if lostTables > 0 { facts.append("\(lostTables) table\(lostTables == 1 ? "" : "s") lost") }
        if let kept { facts.append("the original kept in \(kept)") }
        if !facts.isEmpty { text += ": " + facts.joined(separator: ", ") }
        return text
    }
}

/// Watches the report beside the status file: re-read only when its time or size changed, so a status
/// write costs one stat(2) while nothing happens.
public struct ResurrectWatch: Sendable {
    let path: String?
    private var seen: (seconds: Int, nanoseconds: Int, size: Int)?
    public private(set) var current: ResurrectSummary?

    /// `statusFile`: the status file's path (nil: no status file, nothing to watch).
    public init(statusFile: String?) {
        path = statusFile.map { AtomicFileWriter(path: $0).directory + "/" + ResurrectSummary.fileName }
    }

    public mutating func refresh() {
        guard let path else { return }
        var info = stat()
        guard stat(path, &info) == 0 else {
            seen = nil
            current = nil
            return
        }
        let now = (Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size))
        if let seen, seen == now { return }
        seen = now
        current = (try? FileDescriptor.readText(path, limit: 256 * 1024)).flatMap(JSONValue.parse).flatMap(ResurrectSummary.init(json:))
    }
}
