/// One client connection's protocol, with no I/O: bytes from the server go in (`receive`), events and
/// bytes for the server come out (`takeOutgoing`). The loop that owns the socket does non-blocking
/// reads and writes and can drop the session at any moment (a deadline, a memory stop): nothing
/// here waits, so nothing here can delay the guard.
///
/// Handshake: the greeting, Lifeguard's response (a user, no password: the server authenticates the
/// socket's peer), then an auth switch or caching_sha2's "fast auth" answered empty, until OK or an
/// error. Then one command at a time: a text query (OK, error, or a result set of columns and text
/// rows ended by EOF) or COM_PING.
public struct ClientSession {
    public enum Event: Equatable, Sendable {
        /// Authenticated: commands may be sent.
        case connected(Greeting)
        case result(QueryResult)
        case pong
        /// The connection cannot be used any more: close it.
        case failed(Failure)
    }

    public enum QueryResult: Equatable, Sendable {
        case ok(OKPacket)
        case rows(columns: [String], rows: [[String?]])
        case error(ServerError)
    }

    public enum Failure: Error, Equatable, Sendable {
        case unexpectedPacket(String)
        case authenticationFailed(ServerError)
        /// The account wants a password (its plugin is not unix_socket/auth_socket).
        case passwordRequired(plugin: String)
        case framing(PacketFramer.Failure)
        /// A result larger than `maximumResultBytes`: Lifeguard does not grow for a server.
        case resultTooLarge
        /// The socket failed or the server closed it (set by the connection that owns the socket).
        case connectionLost(String)
    }

    private enum State {
        case awaitingGreeting
        case authenticating(Greeting)
        case idle
        case awaitingResult(ResultBuilder)
        case awaitingPong
        case failed
    }

    private struct ResultBuilder {
        var columnCount: Int?
        var columns: [String] = []
        var columnsDone = false
        var rows: [[String?]] = []
        var bytes = 0
    }

    public let user: String
    public let maximumResultBytes: Int
    private var framer: PacketFramer
    private var state = State.awaitingGreeting
    private var outgoing: [UInt8] = []

    public init(user: String, maximumResultBytes: Int = 256 * 1024) {
        self.user = user
        self.maximumResultBytes = maximumResultBytes
        framer = PacketFramer(maximumPayload: maximumResultBytes)
    }

    /// Commands may be sent (authenticated, no command in flight).
    public var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// Bytes to write to the server, handed over once.
    public mutating func takeOutgoing() -> [UInt8] {
        defer { outgoing = [] }
        return outgoing
    }

    public var hasOutgoing: Bool { !outgoing.isEmpty }

    /// Sends a text query; its result comes as one `.result` event. Only when idle.
    public mutating func query(_ sql: String) {
        precondition(isIdle, "a command was sent while another is in flight or before authentication")
        send(command: Command.query(sql))
        state = .awaitingResult(ResultBuilder())
    }

    /// COM_PING; answered by `.pong` (or `.result(.error)` never: a failed ping is a failed connection).
    public mutating func ping() {
        precondition(isIdle, "a ping was sent while another command is in flight or before authentication")
        send(command: Command.ping)
        state = .awaitingPong
    }

    private mutating func send(command: [UInt8]) {
        outgoing += PacketFramer.frame(command, sequence: 0)
        framer.expectedSequence = 1
    }

    /// Feeds bytes read from the socket; returns what they complete.
    public mutating func receive<Bytes: Sequence>(_ bytes: Bytes) -> [Event] where Bytes.Element == UInt8 {
        if case .failed = state { return [] }
        framer.append(bytes)
        var events: [Event] = []
        while true {
            let packet: PacketFramer.Packet?
            do {
                packet = try framer.next()
            } catch {
                events.append(fail(.framing(error)))
                return events
            }
            guard let packet else { return events }
            if let event = handle(packet.payload) { events.append(event) }
            if case .failed = state { return events }
        }
    }

    private mutating func fail(_ failure: Failure) -> Event {
        state = .failed
        outgoing = []
        return .failed(failure)
    }

    private mutating func handle(_ payload: [UInt8]) -> Event? {
        switch state {
        case .failed:
            return nil
        case .awaitingGreeting:
            if let error = ServerError.parse(payload) { return fail(.authenticationFailed(error)) }
            guard let greeting = Greeting.parse(payload) else { return fail(.unexpectedPacket("greeting")) }
            reply(HandshakeResponse.payload(user: user, greeting: greeting))
            state = .authenticating(greeting)
            return nil
        case .authenticating(let greeting):
            switch AuthReply.parse(payload) {
            case .ok:
                state = .idle
                return .connected(greeting)
            case .error(let error):
                return fail(.authenticationFailed(error))
            case .switchPlugin(let name):
                // No password: every plugin gets an empty response; one that needs more says so next.
                reply([])
                state = .authenticating(Greeting(serverVersion: greeting.serverVersion, connectionID: greeting.connectionID,
                                                 capabilities: greeting.capabilities, authData: [], authPlugin: name))
                return nil
            case .moreData(let data):
                // caching_sha2_password: 3 is "fast authentication succeeded" (an OK follows);
                // anything else asks for the password Lifeguard does not have.
                if data == [3] { return nil }
                return fail(.passwordRequired(plugin: greeting.authPlugin))
            case nil:
                return fail(.unexpectedPacket("authentication reply"))
            }
        case .idle:
            return fail(.unexpectedPacket("data with no command in flight"))
        case .awaitingPong:
            if OKPacket.parse(payload) != nil {
                state = .idle
                return .pong
            }
            return fail(.unexpectedPacket("ping reply"))
        case .awaitingResult(var builder):
            return resultPacket(payload, &builder)
        }
    }

    private mutating func resultPacket(_ payload: [UInt8], _ builder: inout ResultBuilder) -> Event? {
        builder.bytes += payload.count
        guard builder.bytes <= maximumResultBytes else { return fail(.resultTooLarge) }
        guard let columnCount = builder.columnCount else {
            if let ok = OKPacket.parse(payload) { return finish(.ok(ok)) }
            if let error = ServerError.parse(payload) { return finish(.error(error)) }
            guard let count = ResultSetPacket.columnCount(payload) else { return fail(.unexpectedPacket("result header")) }
            builder.columnCount = count
            state = .awaitingResult(builder)
            return nil
        }
        if !builder.columnsDone {
            if EOFPacket.matches(payload) {
                guard builder.columns.count == columnCount else { return fail(.unexpectedPacket("column count")) }
                builder.columnsDone = true
            } else {
                guard builder.columns.count < columnCount, let name = ResultSetPacket.columnName(payload) else {
                    return fail(.unexpectedPacket("column definition"))
                }
                builder.columns.append(name)
            }
            state = .awaitingResult(builder)
            return nil
        }
        if EOFPacket.matches(payload) { return finish(.rows(columns: builder.columns, rows: builder.rows)) }
        // An error in the middle of the rows (a KILL QUERY, a timeout) ends the result.
        if let error = ServerError.parse(payload) { return finish(.error(error)) }
        guard let row = ResultSetPacket.row(payload, columns: columnCount) else { return fail(.unexpectedPacket("row")) }
        builder.rows.append(row)
        state = .awaitingResult(builder)
        return nil
    }

    private mutating func finish(_ result: QueryResult) -> Event {
        state = .idle
        return .result(result)
    }

    /// A packet in the middle of an exchange: the sequence continues from the server's last one.
    private mutating func reply(_ payload: [UInt8]) {
        outgoing += PacketFramer.frame(payload, sequence: framer.expectedSequence)
        framer.expectedSequence &+= 1
    }
}
