import Glibc
import LifeguardSystem

/// `lifeguard probe [--live | --ready] [--max-age SECONDS] [--status-file PATH]`: reads only the
/// status file (no SQL, no network, no server log noise) and exits 0 or 1 with one line. Never 2:
/// Docker reserves it.
///
/// - `--ready` (the default): passes only in `ready`, for readiness probes and Docker HEALTHCHECK.
/// - `--live`: passes while Lifeguard keeps the file fresh and the command has not exited, including
///   while it starts (InnoDB crash recovery must never be killed by a liveness probe) or stops.
public enum ProbeCommand {
    public enum Mode: Sendable { case live, ready }

    public struct Verdict: Equatable, Sendable {
        public var passed: Bool
        public var message: String
    }

    /// `statusFile`: LIFEGUARD_STATUS_FILE, when set.
    public static func run(arguments: [String], statusFile: String?) -> Int32 {
        var mode = Mode.ready
        var maxAge: Duration?
        var path = statusFile ?? StatusFiles.defaultPath
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--live": mode = .live
            case "--ready": mode = .ready
            case "--max-age", "--status-file":
                guard index + 1 < arguments.count else { return usage("\(argument) needs a value") }
                index += 1
                if argument == "--status-file" {
                    path = arguments[index]
                } else {
                    guard let value = ValueParsers.duration(arguments[index]), value > .zero else {
                        return usage("--max-age \(arguments[index]): expected a duration such as 10 or 30s")
                    }
                    maxAge = value
                }
            case "-h", "--help": return usage(nil)
            default: return usage("unknown argument \(argument)")
            }
            index += 1
        }
        let verdict = evaluate(path: path, mode: mode, maxAge: maxAge)
        print(verdict.message)
        return verdict.passed ? 0 : 1
    }

    public static func evaluate(path: String, mode: Mode, maxAge: Duration?, currentBootID: String? = StatusAge.currentBootID(),
                                now: MonotonicInstant = .now(), wallNow: WallClockTime = .now()) -> Verdict {
        let text: String
        do {
            text = try FileDescriptor.readText(path, limit: 64 * 1024)
        } catch {
            return Verdict(passed: false, message: "unhealthy: no status file at \(path) (\(error)): "
                + (writeProblem(path) ?? "is Lifeguard running, and can it write there?"))
        }
        return verdict(text: text, path: path, mode: mode, maxAge: maxAge, currentBootID: currentBootID, now: now, wallNow: wallNow)
    }

    /// The verdict on a status file's text (whatever it holds: the fuzzer feeds it garbage).
    static func verdict(text: String, path: String, mode: Mode, maxAge: Duration?, currentBootID: String?,
                        now: MonotonicInstant, wallNow: WallClockTime) -> Verdict {
        guard let status = Status(json: text) else {
            return Verdict(passed: false, message: "unhealthy: \(path) is not a Lifeguard status file (empty, truncated or garbage)")
        }
        let age = StatusAge.age(of: status, currentBootID: currentBootID, now: now, wallNow: wallNow)
        let limit = maxAge ?? max(.seconds(10), status.statusInterval * 3)
        if age > limit {
            return Verdict(passed: false, message: "unhealthy: the status file is stale, updated \(StatusAge.describe(age)) ago (more than \(StatusAge.describe(limit))): "
                + (writeProblem(path) ?? "Lifeguard is hung or cannot write it"))
        }
        let what = status.command ?? "the command"
        // A replica behind says why (a thread stopped, how far behind); otherwise the server's own words.
        let detail = (status.state == .replicaBehind ? status.replication?.reason : status.serverStatus).map { ": \($0)" } ?? ""
        switch (status.state, mode) {
        case (.exited, _):
            return Verdict(passed: false, message: "unhealthy: \(what) exited" + (status.exitCode.map { " with code \($0)" } ?? ""))
        case (.ready, _):
            return Verdict(passed: true, message: "ready: \(what) (pid \(status.childPID.map(String.init) ?? "?")) accepts connections" + detail)
        case (_, .live):
            return Verdict(passed: true, message: "alive: \(what) is \(status.state.rawValue)" + detail)
        case (_, .ready):
            return Verdict(passed: false, message: "not ready: \(what) is \(status.state.rawValue)" + detail)
        }
    }

    /// Why Lifeguard may be unable to write the status file, where the probe can tell: its directory
    /// is missing, or its filesystem is full or read-only. Only on a failing probe: one statvfs.
    static func writeProblem(_ path: String) -> String? {
        let directory = AtomicFileWriter(path: path).directory
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return "its directory \(directory) is missing (\(Errno.current))" }
        if info.f_bavail == 0 || info.f_favail == 0 {
            return "the filesystem holding \(directory) is full (Lifeguard cannot write the status file)"
        }
        if info.f_flag & UInt(ST_RDONLY) != 0 { return "the filesystem holding \(directory) is read-only" }
        return nil
    }

    private static func usage(_ problem: String?) -> Int32 {
        let text = "usage: lifeguard probe [--live | --ready] [--max-age SECONDS] [--status-file PATH]"
        print(problem.map { "probe: \($0); \(text)" } ?? text)
        return problem == nil ? 0 : 1
    }
}
