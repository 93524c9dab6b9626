/// Capability flags the client and server agree on (the intersection of what each says).
public struct Capabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let longPassword = Capabilities(rawValue: 1)
    public static let connectWithDatabase = Capabilities(rawValue: 1 << 3)
    public static let protocol41 = Capabilities(rawValue: 1 << 9)
    public static let transactions = Capabilities(rawValue: 1 << 13)
    public static let secureConnection = Capabilities(rawValue: 1 << 15)
    public static let pluginAuth = Capabilities(rawValue: 1 << 19)
    public static let pluginAuthLengthEncodedData = Capabilities(rawValue: 1 << 21)
    /// Not asked for: result sets end with the classic EOF packet, which both servers still send.
    public static let deprecateEOF = Capabilities(rawValue: 1 << 24)

    /// What Lifeguard asks for. Both MariaDB 10.x/11.x and MySQL 8 have offered all of these for years;
    /// a server without protocol 4.1 or secure connection is refused (`Greeting.parse`).
    public static let client: Capabilities = [.longPassword, .protocol41, .transactions, .secureConnection, .pluginAuth,
                                              .pluginAuthLengthEncodedData]
}

/// The server's first packet (protocol version 10), as far as the client needs it.
public struct Greeting: Equatable, Sendable {
    public var serverVersion: String
    public var connectionID: UInt32
    public var capabilities: Capabilities
    /// The scramble (20 bytes for the built-in plugins).
    public var authData: [UInt8]
    /// The server's default authentication plugin; "" when the server names none.
    public var authPlugin: String

    /// MariaDB prefixes "5.5.5-" to its version for old MySQL clients (before MariaDB 11.0). Searched
    /// as bytes: `String.contains(String)` would link the regex engine, a megabyte (see `Footprint`).
    public var isMariaDB: Bool {
        let name = Array("MariaDB".utf8)
        let version = Array(serverVersion.utf8)
        guard version.count >= name.count else { return false }
        return (0...(version.count - name.count)).contains { start in version[start..<start + name.count].elementsEqual(name) }
    }

    public static func parse(_ payload: [UInt8]) -> Greeting? {
        var reader = WireReader(payload)
        guard reader.byte() == 10, let version = reader.nulTerminated(), let id = reader.integer(width: 4),
              let part1 = reader.bytes(count: 8), reader.skip(1), let lower = reader.integer(width: 2) else { return nil }
        var capabilities = Capabilities(rawValue: UInt32(lower))
        var authData = Array(part1)
        var plugin = ""
        if !reader.isAtEnd {
            // Character set, status, the upper capability bits, the scramble's length, 10 reserved bytes
            // (MariaDB keeps its own extended capabilities in the last 4).
            guard reader.skip(1 + 2), let upper = reader.integer(width: 2), let dataLength = reader.byte(),
                  reader.skip(10) else { return nil }
            capabilities.insert(Capabilities(rawValue: UInt32(upper) << 16))
            if capabilities.contains(.secureConnection) {
                let part2Length = max(13, Int(dataLength) - 8)
                guard let part2 = reader.bytes(count: part2Length) else { return nil }
                // The scramble is NUL-terminated on the wire; the NUL is not part of it.
                authData += part2.last == 0 ? part2.dropLast() : part2
            }
            if capabilities.contains(.pluginAuth) {
                let rest = reader.rest()
                plugin = String(wire: rest.last == 0 ? rest.dropLast() : rest)
            }
        }
        guard capabilities.isSuperset(of: [.protocol41, .secureConnection]) else { return nil }
        return Greeting(serverVersion: String(wire: version), connectionID: UInt32(id), capabilities: capabilities,
                        authData: authData, authPlugin: plugin)
    }
}

/// The client's answer to the greeting (HandshakeResponse41). Lifeguard authenticates by the socket's
/// peer (MariaDB `unix_socket`, MySQL `auth_socket`): it has no password, so its auth response is empty
/// whatever plugin the server names.
public enum HandshakeResponse {
    /// utf8mb4_general_ci, known to MariaDB and MySQL alike.
    public static let characterSet: UInt8 = 45

    public static func payload(user: String, greeting: Greeting, database: String? = nil) -> [UInt8] {
        var capabilities = Capabilities.client.intersection(greeting.capabilities)
        if database != nil { capabilities.insert(.connectWithDatabase) }
        var writer = WireWriter()
        writer.integer(UInt64(capabilities.rawValue), width: 4)
        writer.integer(1 << 24, width: 4)  // the largest packet Lifeguard accepts (1 MiB is enough; this is a maximum)
        writer.integer(UInt64(characterSet), width: 1)
        writer.zeros(23)
        writer.nulTerminated(user)
        if capabilities.contains(.pluginAuthLengthEncodedData) {
            writer.lengthEncodedInteger(0)
        } else {
            writer.integer(0, width: 1)
        }
        if let database { writer.nulTerminated(database) }
        if capabilities.contains(.pluginAuth) { writer.nulTerminated(greeting.authPlugin) }
        return writer.bytes
    }
}

/// What the server says during authentication, after the handshake response.
public enum AuthReply: Equatable, Sendable {
    case ok
    case error(ServerError)
    /// 0xFE: use this plugin instead; the client answers with that plugin's response (empty here).
    case switchPlugin(name: String)
    /// 0x01: plugin-specific data (caching_sha2_password: 3 = fast authentication succeeded, 4 = a
    /// password is required).
    case moreData([UInt8])

    public static func parse(_ payload: [UInt8]) -> AuthReply? {
        switch payload.first {
        case 0x00: return .ok
        case 0xFF: return ServerError.parse(payload).map(AuthReply.error)
        case 0xFE:
            var reader = WireReader(payload)
            _ = reader.byte()
            let name = reader.nulTerminated() ?? reader.rest()
            return .switchPlugin(name: String(wire: name))
        case 0x01: return .moreData(Array(payload.dropFirst()))
        default: return nil
        }
    }
}
