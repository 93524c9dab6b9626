import LifeguardSystem

/// The version Lifeguard reports (`--version`, the status file, the metrics).
public enum LifeguardVersion {
    public static let string = "0.1.0"
}
