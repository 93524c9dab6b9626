import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// How the trigger (the "offer": the working set at which the database is stopped) is set.
public enum TriggerSetting: Equatable, Sendable {
    /// The hard limit less the headroom: with the default 5 %, hard limit ÷ 1.05, the article's ratio
    /// (a 256 MiB container stops its database at 243.8 MiB and keeps 12.8 MB to shut down).
    case automatic
    /// A fixed number of bytes.
    case bytes(UInt64)
    /// A percentage of the hard limit.
    case percentOfLimit(Double)
    /// The guard is off.
    case off

    /// The trigger in bytes for this hard limit, or nil when the guard cannot run (off, or relative to
    /// a hard limit that does not exist).
    public func resolve(hardLimit: UInt64?, headroom: Headroom) -> UInt64? {
        switch self {
        case .off: return nil
        case .bytes(let bytes): return bytes
        case .percentOfLimit(let percent): return hardLimit.map { UInt64(Double($0) * percent / 100) }
        case .automatic: return hardLimit.map(headroom.trigger(forHardLimit:))
        }
    }

    public var description: String {
        switch self {
        case .automatic: return "automatic"
        case .bytes(let bytes): return "\(bytes)"
        case .percentOfLimit(let percent): return "\(percent)%"
        case .off: return "off"
        }
    }
}

/// What the hard limit keeps above the trigger for the shutdown itself.
public enum Headroom: Equatable, Sendable {
    /// The hard limit is the trigger plus this percentage of it: trigger = limit ÷ (1 + p/100).
    case percent(Double)
    /// The hard limit is the trigger plus these bytes.
    case bytes(UInt64)

    public func trigger(forHardLimit limit: UInt64) -> UInt64 {
        switch self {
        case .percent(let percent): return UInt64((Double(limit) / (1 + percent / 100)).rounded(.down))
        case .bytes(let bytes): return limit > bytes ? limit - bytes : 0
        }
    }
}

/// What happens after a memory-triggered stop.
public enum MemoryLimitAction: String, Equatable, Sendable, CaseIterable {
    /// Start COMMAND again in the same container, with exponential backoff and a cap.
    case restart
    /// Exit (with `Supervisor.memoryExitCode` after a memory stop, 128+N after a crash), so
    /// `--restart on-failure` or Kubernetes restarts the container.
    case exit
}

/// What a crash (the command killed by a signal Lifeguard did not send) leads to: the same choice.
public typealias CrashAction = MemoryLimitAction

/// What a server that keeps dying during its start leads to, once the restart cap is reached.
public enum CorruptionAction: String, Sendable, Equatable {
    /// Exit with the last crash's code: the orchestrator takes the crash loop.
    case exit
    /// Run `resurrect` on the datadir first (the image's script); resurrected, start the server again.
    case resurrect
}

extension ValueParsers {
    public static let triggerAccepted = "auto, off, a percentage of the hard limit (95%), or " + sizeAccepted

    /// LIFEGUARD_MEMORY_LIMIT: "auto", "off", "95%", or a size greater than zero.
    public static func trigger(_ text: String) -> TriggerSetting? {
        switch asciiLowercased(text) {
        case "auto", "automatic": return .automatic
        case "off", "none": return .off
        default: break
        }
        if let percent = percentage(text) { return .percentOfLimit(percent) }
        if let bytes = size(text), bytes > 0 { return .bytes(bytes) }
        return nil
    }

    public static let headroomAccepted = "a percentage greater than zero (5%) or " + sizeAccepted

    /// LIFEGUARD_HEADROOM: "5%" or a size greater than zero.
    public static func headroom(_ text: String) -> Headroom? {
        if let percent = percentage(text) { return .percent(percent) }
        if let bytes = size(text), bytes > 0 { return .bytes(bytes) }
        return nil
    }
}
