import LifeguardSystem

/// A level of the shed (`LIFEGUARD_SHED_AT`, `LIFEGUARD_SHED_MINIMUM`): relative to the trigger, so it
/// follows the container's limit when that changes (`docker update --memory`).
public enum ShedSetting: Equatable, Sendable {
    case bytes(UInt64)
    case percentOfTrigger(Double)
    case off

    /// The level in bytes for this trigger; nil when off.
    public func resolve(trigger: UInt64) -> UInt64? {
        switch self {
        case .bytes(let bytes): return bytes
        case .percentOfTrigger(let percent): return UInt64(Double(trigger) * percent / 100)
        case .off: return nil
        }
    }

    public var description: String {
        switch self {
        case .bytes(let bytes): return "\(bytes)"
        case .percentOfTrigger(let percent): return "\(percent)%"
        case .off: return "off"
        }
    }
}

extension ValueParsers {
    public static let shedAtAccepted = "off, a percentage of the trigger (90%), or " + sizeAccepted
    public static let shedMinimumAccepted = "a percentage of the trigger (10%) or " + sizeAccepted

    /// LIFEGUARD_SHED_AT: "off", "90%" of the trigger, or a size greater than zero.
    public static func shedAt(_ text: String) -> ShedSetting? {
        switch asciiLowercased(text) {
        case "off", "none": return .off
        default: return shedMinimum(text)
        }
    }

    /// LIFEGUARD_SHED_MINIMUM: "10%" of the trigger, or a size greater than zero.
    public static func shedMinimum(_ text: String) -> ShedSetting? {
        if let percent = percentage(text) { return .percentOfTrigger(percent) }
        if let bytes = size(text), bytes > 0 { return .bytes(bytes) }
        return nil
    }
}
