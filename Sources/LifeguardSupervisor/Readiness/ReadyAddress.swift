import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Where readiness by handshake is checked when no sd_notify `READY=1` comes.
public enum ReadyAddress: Equatable, Sendable, CustomStringConvertible {
    /// A unix socket path, e.g. the mysqld socket.
    case unix(String)
    /// A numeric IPv4 or IPv6 address and a port (no DNS: a static binary has no resolver to trust).
    case tcp(host: String, port: UInt16)
    /// sd_notify only.
    case none

    /// Where both MySQL's and MariaDB's official images put the socket.
    public static let mysqlDefaultSocket = "/var/run/mysqld/mysqld.sock"

    public static let accepted = "a unix socket path (/var/run/mysqld/mysqld.sock), a numeric address and port (127.0.0.1:3306, [::1]:3306), or none"

    public init?(_ text: String) {
        if text == "none" {
            self = .none
        } else if text.hasPrefix("/") {
            self = .unix(text)
        } else if let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 {
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let isIPv4 = host.split(separator: ".", omittingEmptySubsequences: false).count == 4
                && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
            let isIPv6 = host.contains(":") && host.utf8.allSatisfy { $0 == UInt8(ascii: ":") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 102) }
            guard isIPv4 || isIPv6 else { return nil }
            self = .tcp(host: host, port: port)
        } else {
            return nil
        }
    }

    /// The address for a command: the `--socket` it is given, else the mysqld default.
    public static func `default`(forCommand command: [String]) -> ReadyAddress {
        var index = 0
        while index < command.count {
            let argument = command[index]
            if argument.hasPrefix("--socket=") { return .unix(String(argument.dropFirst("--socket=".count))) }
            if argument == "--socket", index + 1 < command.count { return .unix(command[index + 1]) }
            index += 1
        }
        return .unix(mysqlDefaultSocket)
    }

    public var description: String {
        switch self {
        case .unix(let path): return path
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .none: return "none"
        }
    }
}

/// Finds who listens where, from /proc, without connecting: a probe connection costs the server an
/// "Aborted connection" warning in its error log, so Lifeguard connects only once it knows the main
/// child itself is listening (never the entrypoint's temporary init server).
public enum ListeningSockets {
    /// Inodes of listening stream sockets bound at `path`, from the text of /proc/net/unix
    /// ("Num RefCount Protocol Flags Type St Inode Path"; Flags 00010000 is listening, Type 0001 stream).
    public static func unixInodes(boundAt path: String, in table: String) -> [UInt64] {
        table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[7] == path, fields[4] == "0001",
                  let flags = UInt32(fields[3], radix: 16), flags & 0x10000 != 0 else { return nil }
            return UInt64(fields[6])
        }
    }

    /// Inodes of TCP sockets listening (state 0A) on `port`, from /proc/net/tcp or tcp6 text.
    public static func tcpInodes(port: UInt16, in table: String) -> [UInt64] {
        table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, fields[3] == "0A",
                  let colon = fields[1].lastIndex(of: ":"),
                  UInt16(fields[1][fields[1].index(after: colon)...], radix: 16) == port else { return nil }
            return UInt64(fields[9])
        }
    }

    /// Whether /proc/<pid>/fd holds one of `inodes` ("socket:[inode]" links).
    public static func process(_ pid: Int32, holdsAnyOf inodes: [UInt64], procRoot: String = "/proc") -> Bool {
        guard !inodes.isEmpty else { return false }
        let wanted = Set(inodes.map { "socket:[\($0)]" })
        let directory = procRoot + "/\(pid)/fd"
        guard let names = try? FileSystem.entries(of: directory) else { return false }
        return names.contains { name in (try? FileSystem.readLink(directory + "/" + name)).map(wanted.contains) ?? false }
    }

    /// Whether the process `pid` listens at `address`.
    public static func isListening(_ pid: Int32, at address: ReadyAddress, procRoot: String = "/proc") -> Bool {
        let inodes: [UInt64]
        switch address {
        case .none: return false
        case .unix(let path):
            inodes = unixInodes(boundAt: path, in: (try? FileDescriptor.readText(procRoot + "/net/unix", limit: 4 << 20)) ?? "")
        case .tcp(_, let port):
            inodes = ["tcp", "tcp6"].flatMap { tcpInodes(port: port, in: (try? FileDescriptor.readText(procRoot + "/net/" + $0, limit: 4 << 20)) ?? "") }
        }
        return process(pid, holdsAnyOf: inodes, procRoot: procRoot)
    }
}
