/// An error packet (0xFF): the server's error code, SQLSTATE and message.
public struct ServerError: Error, Equatable, Sendable {
    public var code: UInt16
    /// "" when the packet has none (errors sent before the handshake is agreed on).
    public var sqlState: String
    public var message: String

    public init(code: UInt16, sqlState: String = "", message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public static func parse(_ payload: [UInt8]) -> ServerError? {
        var reader = WireReader(payload)
        guard reader.byte() == 0xFF, let code = reader.integer(width: 2) else { return nil }
        var state = ""
        if reader.remaining >= 6, reader.bytes[reader.index] == UInt8(ascii: "#") {
            _ = reader.byte()
            state = reader.bytes(count: 5).map(String.init(wire:)) ?? ""
        }
        return ServerError(code: UInt16(code), sqlState: state, message: String(wire: reader.rest()))
    }
}

/// An OK packet (0x00): the end of a statement that returns no rows.
public struct OKPacket: Equatable, Sendable {
    public var affectedRows: UInt64
    public var lastInsertID: UInt64
    public var status: UInt16
    public var warnings: UInt16

    public init(affectedRows: UInt64, lastInsertID: UInt64, status: UInt16, warnings: UInt16) {
        self.affectedRows = affectedRows
        self.lastInsertID = lastInsertID
        self.status = status
        self.warnings = warnings
    }

    public static func parse(_ payload: [UInt8]) -> OKPacket? {
        var reader = WireReader(payload)
        guard reader.byte() == 0x00, let affected = reader.lengthEncodedInteger(), let insertID = reader.lengthEncodedInteger(),
              let status = reader.integer(width: 2), let warnings = reader.integer(width: 2) else { return nil }
        return OKPacket(affectedRows: affected, lastInsertID: insertID, status: UInt16(status), warnings: UInt16(warnings))
    }
}

/// The classic EOF packet (0xFE, under 9 bytes) that ends column definitions and rows.
public enum EOFPacket {
    public static func matches(_ payload: [UInt8]) -> Bool { payload.first == 0xFE && payload.count < 9 }
}

/// A text-protocol result set's pieces.
public enum ResultSetPacket {
    /// The first packet of a result: a column count (a result set follows) — or nil when the payload is
    /// an OK, error or local-infile packet instead.
    public static func columnCount(_ payload: [UInt8]) -> Int? {
        guard let first = payload.first, first != 0x00, first != 0xFF, first != 0xFB else { return nil }
        var reader = WireReader(payload)
        guard let count = reader.lengthEncodedInteger(), reader.isAtEnd, count > 0, count <= 4096 else { return nil }
        return Int(count)
    }

    /// A column definition (protocol 4.1): the column's name (its alias when it has one).
    public static func columnName(_ payload: [UInt8]) -> String? {
        var reader = WireReader(payload)
        for _ in 0..<4 { guard reader.lengthEncodedBytes() != nil else { return nil } }  // catalog, schema, table, org_table
        return reader.lengthEncodedBytes().map(String.init(wire:))
    }

    /// A text row of `columns` values; nil for SQL NULL. nil when the packet is not such a row.
    public static func row(_ payload: [UInt8], columns: Int) -> [String?]? {
        var reader = WireReader(payload)
        var values: [String?] = []
        values.reserveCapacity(columns)
        for _ in 0..<columns {
            guard !reader.isAtEnd else { return nil }
            if reader.bytes[reader.index] == 0xFB {
                _ = reader.byte()
                values.append(nil)
            } else {
                guard let value = reader.lengthEncodedBytes() else { return nil }
                values.append(String(wire: value))
            }
        }
        return reader.isAtEnd ? values : nil
    }
}

/// Commands Lifeguard sends (each the first packet of its exchange, sequence 0).
public enum Command {
    public static func query(_ sql: String) -> [UInt8] { [0x03] + Array(sql.utf8) }
    public static let ping: [UInt8] = [0x0E]
    public static let quit: [UInt8] = [0x01]
}
