/// The question the shed asks the server, per flavour, and how its answer is read: the one user
/// connection holding the most memory. Never Lifeguard's own connection (nor any lifeguard account's),
/// never a system thread, the event scheduler, a replication thread (MariaDB's appliers run as
/// "system user"; a primary's binlog senders are "Binlog Dump"), nor one already being killed.
/// The columns are the same for both: id, user, host, database, command, seconds, memory in bytes.
/// No query text is asked for: it can hold secrets, and nothing Lifeguard says may.
public enum RunawayQuery {
    public enum Flavor: String, Equatable, Sendable {
        case mariadb
        case mysql

        /// From the greeting's server version ("10.11.19-MariaDB-0+deb12u1", "8.0.36").
        public init(serverVersion: String) {
            self = serverVersion.split(separator: "-").contains("MariaDB") ? .mariadb : .mysql
        }
    }

    // Each statement is one literal (the benchmark reads the MariaDB one out of the binary to time it);
    // a unit test checks both exclude the same commands and users.

    /// MariaDB: `information_schema.PROCESSLIST.MEMORY_USED`, the session's own accounting (what
    /// `max_session_mem_used` limits). Needs PROCESS to see every connection.
    static let mariadb = """
        SELECT ID, USER, HOST, DB, COMMAND, TIME, MEMORY_USED FROM information_schema.PROCESSLIST \
        WHERE ID <> CONNECTION_ID() \
        AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Killed', 'Slave_IO', 'Slave_SQL', 'Slave_worker') \
        AND USER NOT IN ('system user', 'event_scheduler', 'lifeguard') ORDER BY MEMORY_USED DESC LIMIT 1
        """

    /// MySQL 8: performance_schema's per-thread memory (the memory/% instruments, on by default),
    /// summed per thread and joined to the processlist id. Needs performance_schema on: the rendered
    /// settings leave it off below 1 GiB, where MySQL's own connection_memory_limit is the tier.
    static let mysql = """
        SELECT t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_HOST, t.PROCESSLIST_DB, t.PROCESSLIST_COMMAND, \
        t.PROCESSLIST_TIME, m.BYTES FROM performance_schema.threads t JOIN (SELECT THREAD_ID, \
        SUM(CURRENT_NUMBER_OF_BYTES_USED) AS BYTES FROM performance_schema.memory_summary_by_thread_by_event_name \
        GROUP BY THREAD_ID) m ON m.THREAD_ID = t.THREAD_ID WHERE t.TYPE = 'FOREGROUND' \
        AND t.PROCESSLIST_ID <> CONNECTION_ID() \
        AND t.PROCESSLIST_COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Killed', 'Slave_IO', 'Slave_SQL', 'Slave_worker') \
        AND t.PROCESSLIST_USER NOT IN ('system user', 'event_scheduler', 'lifeguard') ORDER BY m.BYTES DESC LIMIT 1
        """

    public static func sql(for flavor: Flavor) -> String {
        flavor == .mariadb ? mariadb : mysql
    }

    /// The statement that kills `candidate` the way `mode` says.
    public static func kill(_ candidate: Shedder.Candidate, _ mode: Shedder.KillMode) -> String {
        "\(mode.rawValue) \(candidate.id)"
    }

    /// The first row as a candidate; nil when there is none. A row that is not one (a NULL id, text
    /// where a number belongs) is an error, not a candidate: Lifeguard kills only what it can name.
    public static func candidate(from rows: [[String?]]) -> Result<Shedder.Candidate?, ParseError> {
        guard let row = rows.first else { return .success(nil) }
        guard row.count == 7 else { return .failure(ParseError(reason: "\(row.count) columns, not 7")) }
        guard let id = row[0].flatMap({ UInt64($0) }), id > 0 else { return .failure(ParseError(reason: "no connection id")) }
        guard let memory = row[6].flatMap(wholeBytes) else { return .failure(ParseError(reason: "no memory figure")) }
        return .success(Shedder.Candidate(id: id, user: row[1] ?? "", host: row[2] ?? "", database: row[3],
                                          command: row[4] ?? "", seconds: row[5].flatMap { UInt64($0) } ?? 0, memory: memory))
    }

    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "unexpected answer: \(reason)" }
    }

    /// A byte count as the server prints it: an integer, or a SUM's decimal ("123.0000"); negative
    /// figures (performance_schema can drift below zero per thread) count as zero.
    static func wholeBytes(_ text: String) -> UInt64? {
        let integral = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
        if let value = UInt64(integral) { return value }
        if Int64(integral) != nil { return 0 }  // parses as a signed number only: negative
        return nil
    }
}
