import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// One datagram of the systemd notify protocol (sd_notify(3)): newline-separated `KEY=VALUE` lines.
/// Debian's MariaDB sends `READY=1` with a `STATUS=` when it accepts connections and `STOPPING=1` when
/// its shutdown begins; MySQL 8 built with systemd support does the same.
public struct NotifyMessage: Equatable, Sendable {
    public var ready = false
    public var stopping = false
    public var reloading = false
    /// The server's own words, e.g. "Taking your SQL requests now..." or "Shutdown in progress".
    public var status: String?
    public var mainPID: pid_t?
    public var errorNumber: Int32?

    public init() {}

    /// Parses a datagram. Unknown keys (WATCHDOG, EXTEND_TIMEOUT_USEC, …) are ignored; a value that is
    /// not exactly "1" does not set a flag.
    public init(_ bytes: some Collection<UInt8>) {
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: line[line.startIndex..<equals], as: UTF8.self)
            let value = String(decoding: line[line.index(after: equals)...], as: UTF8.self)
            switch key {
            case "READY": ready = value == "1"
            case "STOPPING": stopping = value == "1"
            case "RELOADING": reloading = value == "1"
            case "STATUS": status = String(value.prefix(200))
            case "MAINPID": mainPID = pid_t(value)
            case "ERRNO": errorNumber = Int32(value)
            default: break
            }
        }
    }
}
