import LifeguardMySQL
import Testing

/// Lifeguard's MySQL client protocol over recorded and documented packets: MariaDB 10.11's, recorded
/// on this machine (MariaDB 10.11.19 over its unix socket), and MySQL 8's variants as its protocol
/// documentation gives them (caching_sha2_password, its fast-auth reply). The real server is in
/// IntegrationTests (MySQLClientTests).
@Suite("MySQL client protocol")
struct MySQLProtocolTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Recorded: MariaDB 10.11.19's greeting (payload), mysql_native_password, connection id 3.
    static let mariaDBGreeting = hex("0a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100030000002f653470584a4a7200fef7080200ff81150000000000001d000000224f485a6d3768292e4c7423006d7973716c5f6e61746976655f70617373776f726400")

    /// MySQL 8.4's greeting as documented: version, id 12, a 21-byte scramble (with its NUL),
    /// capabilities 0xdfffffff, utf8mb4_0900_ai_ci, caching_sha2_password.
    static let mySQLGreeting: [UInt8] = {
        var writer = WireWriter()
        writer.integer(10, width: 1)
        writer.nulTerminated("8.4.3")
        writer.integer(12, width: 4)
        writer.append(Array("abcdefgh".utf8))
        writer.integer(0, width: 1)
        writer.integer(0xffff, width: 2)
        writer.integer(255, width: 1)
        writer.integer(2, width: 2)
        writer.integer(0xdfff, width: 2)
        writer.integer(21, width: 1)
        writer.zeros(10)
        writer.append(Array("ijklmnopqrst".utf8) + [0])
        writer.nulTerminated("caching_sha2_password")
        return writer.bytes
    }()

    static func framed(_ payload: [UInt8], _ sequence: UInt8) -> [UInt8] { PacketFramer.frame(payload, sequence: sequence) }

    @Test("length-encoded integers and strings, fixed integers; reads past the end are nil")
    func wire() {
        var reader = WireReader([0xFA, 0xFC, 0x34, 0x12, 0xFD, 1, 2, 3, 0xFE, 1, 0, 0, 0, 0, 0, 0, 0x80, 0xFB, 0xFF])
        #expect(reader.lengthEncodedInteger() == 250)
        #expect(reader.lengthEncodedInteger() == 0x1234)
        #expect(reader.lengthEncodedInteger() == 0x030201)
        #expect(reader.lengthEncodedInteger() == 0x8000_0000_0000_0001)
        #expect(reader.lengthEncodedInteger() == nil)  // 0xFB: NULL, not an integer
        #expect(reader.lengthEncodedInteger() == nil)  // 0xFF
        #expect(reader.lengthEncodedInteger() == nil)  // the end
        var short = WireReader([0xFC, 1])
        #expect(short.lengthEncodedInteger() == nil)
        var text = WireReader([3, 0x61, 0x62, 0x63, 0x78, 0, 5, 0x61])
        #expect(text.lengthEncodedBytes().map(Array.init) == Array("abc".utf8))
        #expect(text.nulTerminated().map(Array.init) == [0x78])
        #expect(text.lengthEncodedBytes() == nil)  // says 5, has 1
        var writer = WireWriter()
        for value: UInt64 in [0, 250, 251, 65_535, 65_536, 1 << 24, 1 << 40] { writer.lengthEncodedInteger(value) }
        var back = WireReader(writer.bytes)
        for value: UInt64 in [0, 250, 251, 65_535, 65_536, 1 << 24, 1 << 40] { #expect(back.lengthEncodedInteger() == value) }
        #expect(back.isAtEnd)
    }

    @Test("framing: packets split across reads and several in one read, sequence checked, oversized refused")
    func framing() throws {
        var framer = PacketFramer(maximumPayload: 100)
        let stream = Self.framed([1, 2, 3], 0) + Self.framed([4], 1)
        framer.append(stream.prefix(5))
        #expect(try framer.next() == nil)
        framer.append(stream.dropFirst(5))
        #expect(try framer.next() == PacketFramer.Packet(sequence: 0, payload: [1, 2, 3]))
        #expect(try framer.next() == PacketFramer.Packet(sequence: 1, payload: [4]))
        #expect(try framer.next() == nil && framer.pendingBytes == 0)
        framer.append(Self.framed([9], 7))
        #expect(throws: PacketFramer.Failure.outOfSequence(expected: 2, received: 7)) { try framer.next() }
        var small = PacketFramer(maximumPayload: 2)
        small.append([3, 0, 0, 0])
        #expect(throws: PacketFramer.Failure.tooLarge(3)) { try small.next() }
        // A split packet (0xFFFFFF) is more than Lifeguard accepts.
        var large = PacketFramer(maximumPayload: 1 << 30)
        large.append([0xFF, 0xFF, 0xFF, 0])
        #expect(throws: PacketFramer.Failure.tooLarge(0xFF_FFFF)) { try large.next() }
    }

    @Test("greetings: MariaDB 10.11 (recorded) and MySQL 8.4 (documented); old or broken ones refused")
    func greetings() throws {
        let mariaDB = try #require(Greeting.parse(Self.mariaDBGreeting))
        #expect(mariaDB.serverVersion == "5.5.5-10.11.19-MariaDB-0+deb12u1" && mariaDB.isMariaDB)
        #expect(mariaDB.connectionID == 3 && mariaDB.authPlugin == "mysql_native_password" && mariaDB.authData.count == 20)
        #expect(mariaDB.capabilities.isSuperset(of: [.protocol41, .secureConnection, .pluginAuth]))
        let mySQL = try #require(Greeting.parse(Self.mySQLGreeting))
        #expect(mySQL.serverVersion == "8.4.3" && !mySQL.isMariaDB && mySQL.connectionID == 12)
        #expect(mySQL.authPlugin == "caching_sha2_password" && mySQL.authData == Array("abcdefghijklmnopqrst".utf8))
        // Protocol 9, a truncated greeting, one without protocol 4.1.
        #expect(Greeting.parse([9] + Array("4.0\0".utf8)) == nil)
        #expect(Greeting.parse(Array(Self.mariaDBGreeting.prefix(20))) == nil)
        var old = Self.mySQLGreeting
        old[1 + 6 + 4 + 8 + 1] = 0  // the lower capability bits: no protocol 4.1, no secure connection
        old[1 + 6 + 4 + 8 + 2] = 0
        #expect(Greeting.parse(old) == nil)
    }

    @Test("the handshake response: capabilities both sides have, the user, an empty auth response, the plugin")
    func handshakeResponse() throws {
        let greeting = try #require(Greeting.parse(Self.mariaDBGreeting))
        let payload = HandshakeResponse.payload(user: "lifeguard", greeting: greeting)
        var reader = WireReader(payload)
        let flags = reader.integer(width: 4)
        let capabilities = Capabilities(rawValue: UInt32(try #require(flags)))
        #expect(capabilities == Capabilities.client.intersection(greeting.capabilities))
        #expect(!capabilities.contains(.deprecateEOF) && !capabilities.contains(.connectWithDatabase))
        #expect(reader.integer(width: 4) == 1 << 24 && reader.byte() == HandshakeResponse.characterSet)
        #expect(reader.bytes(count: 23).map { $0.allSatisfy { $0 == 0 } } == true)
        #expect(reader.nulTerminated().map(Array.init) == Array("lifeguard".utf8))
        #expect(reader.lengthEncodedBytes()?.isEmpty == true)
        #expect(reader.nulTerminated().map(Array.init) == Array("mysql_native_password".utf8))
        #expect(reader.isAtEnd)
    }

    /// A session through the handshake of `greeting` to `.connected`.
    func connected(_ greeting: [UInt8] = mariaDBGreeting) throws -> ClientSession {
        var session = ClientSession(user: "lifeguard")
        #expect(session.receive(Self.framed(greeting, 0)).isEmpty)
        let response = session.takeOutgoing()
        #expect(response[3] == 1, "the handshake response carries sequence 1")
        let events = session.receive(Self.framed(Self.hex("00000002000000"), 2))
        #expect(events.count == 1)
        guard case .connected = events.first else { throw SessionTestFailure("not connected: \(events)") }
        #expect(session.isIdle)
        return session
    }

    @Test("MariaDB, recorded: connect, a result set with a NULL, an error, a ping, an OK")
    func mariaDBSession() throws {
        var session = try connected()
        session.query("select 1 as a, null as b, 'x' as c")
        #expect(session.takeOutgoing() == Self.framed(Command.query("select 1 as a, null as b, 'x' as c"), 0))
        let result = ["03", "036465660000000161000c3f0001000000038100000000", "036465660000000162000c3f0000000000068000000000",
                      "036465660000000163000c2d0004000000fd0100270000", "fe00000200", "0131fb0178", "fe00000200"]
        var stream: [UInt8] = []
        for (index, packet) in result.enumerated() { stream += Self.framed(Self.hex(packet), UInt8(index + 1)) }
        // Delivered a byte at a time: the session must not care how reads split the stream.
        var events: [ClientSession.Event] = []
        for byte in stream { events += session.receive([byte]) }
        #expect(events == [.result(.rows(columns: ["a", "b", "c"], rows: [["1", nil, "x"]]))])
        session.query("select * from nonexistent_table")
        _ = session.takeOutgoing()
        let error = [0xFF, 0x16, 0x04] + Array("#3D000No database selected".utf8)
        #expect(session.receive(Self.framed(error, 1)) == [.result(.error(ServerError(code: 1046, sqlState: "3D000", message: "No database selected")))])
        session.ping()
        #expect(session.takeOutgoing() == [1, 0, 0, 0, 0x0E])
        #expect(session.receive(Self.framed(Self.hex("00000002000000"), 1)) == [.pong])
        session.query("do 1")
        #expect(session.receive(Self.framed(Self.hex("00000002000000"), 1))
                == [.result(.ok(OKPacket(affectedRows: 0, lastInsertID: 0, status: 2, warnings: 0)))])
        #expect(session.isIdle)
    }

    @Test("MySQL 8: caching_sha2_password's fast auth answered, an auth switch answered empty with the next sequence")
    func mySQLAuthentication() throws {
        var session = ClientSession(user: "lifeguard")
        _ = session.receive(Self.framed(Self.mySQLGreeting, 0))
        _ = session.takeOutgoing()
        #expect(session.receive(Self.framed([0x01, 0x03], 2)).isEmpty)  // fast authentication succeeded
        guard case .connected(let greeting) = session.receive(Self.framed(Self.hex("00000002000000"), 3)).first else {
            throw SessionTestFailure("not connected")
        }
        #expect(greeting.serverVersion == "8.4.3")
        // An auth switch to auth_socket: answered with an empty response carrying sequence 3.
        var switched = ClientSession(user: "lifeguard")
        _ = switched.receive(Self.framed(Self.mySQLGreeting, 0))
        _ = switched.takeOutgoing()
        #expect(switched.receive(Self.framed([0xFE] + Array("auth_socket\0".utf8), 2)).isEmpty)
        #expect(switched.takeOutgoing() == [0, 0, 0, 3])
        #expect(switched.receive(Self.framed(Self.hex("00000002000000"), 4)).count == 1 && switched.isIdle)
        // Full authentication wanted: a password Lifeguard does not have.
        var password = ClientSession(user: "lifeguard")
        _ = password.receive(Self.framed(Self.mySQLGreeting, 0))
        #expect(password.receive(Self.framed([0x01, 0x04], 2)) == [.failed(.passwordRequired(plugin: "caching_sha2_password"))])
        #expect(password.hasFailed && !password.hasOutgoing)
    }

    @Test("failures: access denied, a packet with no command in flight, a result too large, a row that does not parse")
    func failures() throws {
        var denied = ClientSession(user: "lifeguard")
        _ = denied.receive(Self.framed(Self.mariaDBGreeting, 0))
        let error = Self.hex("ffa2062332383030304163636573732064656e69656420666f72207573657220276c67746573742740276c6f63616c686f737427")
        #expect(denied.receive(Self.framed(error, 2))
                == [.failed(.authenticationFailed(ServerError(code: 1698, sqlState: "28000", message: "Access denied for user 'lgtest'@'localhost'")))])
        #expect(denied.receive(Self.framed(error, 3)).isEmpty, "a failed session ignores what follows")
        // A server that refuses at once (too many connections) sends an error instead of a greeting.
        var refused = ClientSession(user: "lifeguard")
        #expect(refused.receive(Self.framed([0xFF, 0x10, 0x04] + Array("Too many connections".utf8), 0))
                == [.failed(.authenticationFailed(ServerError(code: 1040, message: "Too many connections")))])
        var idle = try connected()
        #expect(idle.receive(Self.framed([0], 9)) == [.failed(.framing(.outOfSequence(expected: 3, received: 9)))])
        idle = try connected()
        #expect(idle.receive(Self.framed(Self.hex("00000002000000"), 3)) == [.failed(.unexpectedPacket("data with no command in flight"))])
        var small = ClientSession(user: "lifeguard", maximumResultBytes: 256)
        _ = small.receive(Self.framed(Self.mariaDBGreeting, 0))
        _ = small.receive(Self.framed(Self.hex("00000002000000"), 2))
        small.query("select repeat('x', 1000)")
        #expect(small.receive(Self.framed([1], 1) + Self.framed([UInt8](repeating: 0x41, count: 300), 2))
                == [.failed(.framing(.tooLarge(300)))])
        var broken = try connected()
        broken.query("select 1")
        let header = Self.framed([1], 1) + Self.framed(Self.hex("036465660000000161000c3f0001000000038100000000"), 2)
            + Self.framed(Self.hex("fe00000200"), 3)
        #expect(broken.receive(header + Self.framed([5, 0x31], 4)) == [.failed(.unexpectedPacket("row"))])
    }

    @Test("any bytes at all: the session never traps, and fails rather than grows")
    func arbitraryBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var session = ClientSession(user: "lifeguard", maximumResultBytes: 4096)
            var stream = Self.framed(Self.mariaDBGreeting, 0)
            if Bool.random(using: &generator) { stream += Self.framed(Self.hex("00000002000000"), 2) }
            let noise = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let cut = Int.random(in: 0...stream.count, using: &generator)
            _ = session.receive(Array(stream.prefix(cut)) + noise)
            if session.isIdle {
                session.query("select 1")
                _ = session.receive((0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
        }
    }
}

struct SessionTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
