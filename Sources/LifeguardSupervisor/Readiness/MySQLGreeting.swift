import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The first packet a MySQL or MariaDB server sends on a new connection: the handshake greeting
/// (protocol 10 and the server version), or an error packet (0xFF: too many connections, host
/// blocked). Readiness by handshake means a greeting was read.
public enum MySQLGreeting: Equatable, Sendable {
    case handshake(protocolVersion: UInt8, serverVersion: String)
    case error(code: UInt16, message: String)

    public enum ParseResult: Equatable, Sendable {
        /// More bytes are needed.
        case incomplete
        case invalid
        case packet(MySQLGreeting)
    }

    /// Parses the first packet in `bytes` (4-byte header: 3-byte little-endian length, sequence 0).
    public static func parse(_ bytes: [UInt8]) -> ParseResult {
        guard bytes.count >= 4 else { return .incomplete }
        let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        guard bytes[3] == 0, length > 0, length < 1 << 16 else { return .invalid }
        guard bytes.count >= 4 + length else { return .incomplete }
        let payload = bytes[4..<4 + length]
        switch payload.first {
        case 10:
            let text = payload.dropFirst()
            guard let end = text.firstIndex(of: 0), end > text.startIndex else { return .invalid }
            return .packet(.handshake(protocolVersion: 10, serverVersion: String(decoding: text[text.startIndex..<end], as: UTF8.self)))
        case 0xFF:
            guard payload.count >= 3 else { return .invalid }
            let code = UInt16(payload[payload.startIndex + 1]) | UInt16(payload[payload.startIndex + 2]) << 8
            var message = payload.dropFirst(3)
            if message.first == UInt8(ascii: "#") { message = message.dropFirst(6) }  // "#" + SQLSTATE
            return .packet(.error(code: code, message: String(decoding: message, as: UTF8.self)))
        default:
            return .invalid
        }
    }
}
