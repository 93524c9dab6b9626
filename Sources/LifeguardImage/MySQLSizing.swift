import LifeguardCgroup
import LifeguardSupervisor
import LifeguardSystem

/// Which server the settings are for (`mysqld --verbose --help` says).
public enum ServerFlavor: String, Sendable {
    case mysql, mariadb
}

/// Server settings sized from the memory offer, for a container where every byte counts.
///
/// - `innodb_buffer_pool_size`: half of what the offer leaves after the server's own memory
///   (`serverReserve`; Percona's operators and sclorg give the pool 50 %, MySQL's
///   `innodb_dedicated_server` also 50 % between 1 and 4 GB), a whole number of chunks: below 1 GiB
///   one instance and one chunk; from 1 GiB eight instances, chunk = pool ÷ 8. The reserve matters in
///   small containers: with half of a 256 MiB container's offer (121 MiB), MariaDB 10.11 held 197–210
///   MiB of anonymous memory after a few bulk inserts (its own 44 MiB at start, malloc's arenas, the
///   log buffers), 80 % of the hard limit, so binary logging's dirty cache brought it within reach of
///   the v1 dirty-page rule (`MemoryStat.v1DirtyFloor`: 85 %) and the guard stopped a healthy server.
///   With the reserve (89 MiB) the same workload held 161 MiB.
/// - `aria_pagecache_buffer_size`: MariaDB's internal on-disk temporary tables are Aria tables, and
///   their cache defaults to 128 MiB, half a small container: offer ÷ 32, between 8 and 128 MiB
///   (`loose-`: MySQL has no Aria).
/// - `max_connections`: offer ÷ 12 MiB (Percona's operator formula), between 10 and 10,000, plus one
///   for Lifeguard's own connection when it has one (`LIFEGUARD_SERVER_ACCOUNT`). Measured on MariaDB
///   10.11: beyond `max_connections` the server admits exactly one more connection, shared by root and
///   every CONNECTION ADMIN account; Lifeguard must take neither that one (the operator's way in when
///   the server is full) nor one of the applications'.
/// - Per-connection buffers kept at MySQL's defaults (MariaDB's sort buffer default is 2 MiB) and
///   in-memory temporary tables at offer ÷ 32, at most 64 MiB, so 21 connections in a 256 MiB
///   container cannot take more than the offer left over by the buffer pool.
/// - MySQL's TempTable engine may hold 1 GiB in memory (`temptable_max_ram`) and as much again in
///   memory-mapped files (`temptable_max_mmap`, page cache the container pays for): each offer ÷ 16,
///   between 16 MiB and 1 GiB, beyond which it spills to InnoDB on disk (`loose-`: MariaDB has no TempTable).
/// - `max_allowed_packet`: a connection's packet buffer grows to it (MySQL's default: 64 MiB, three of
///   which are most of a small offer): offer ÷ 16, between 16 MiB (MariaDB's default) and 64 MiB.
/// - One session's memory (MariaDB `max_session_mem_used`; MySQL 8.0.28+ `connection_memory_limit`,
///   and `global_connection_memory_limit` for all of them with tracking on): half of what the offer
///   leaves after the buffer pool and the server's reserve, but never below four packets — measured on
///   MariaDB 10.11, a 15 MB INSERT under a 16 MiB `max_allowed_packet` needs 48–64 MiB of session
///   memory, so a lower limit would refuse statements the packet size allows. The global limit is
///   all of that remainder (at least one session's). In the article's container: 64 MiB a session,
///   90 MiB in all, so no one session can take the server to the trigger on its own.
/// - `key_buffer_size` (MyISAM indexes, system tables only in practice): 8 MiB below 1 GiB, else 16.
/// - performance_schema off below 1 GiB: MySQL 8's autosizing can take over 100 MB, and never frees it.
public struct MySQLSizing: Equatable, Sendable {
    public static let mebibyte: UInt64 = 1 << 20
    public static let gibibyte: UInt64 = 1 << 30

    public var offer: UInt64
    public var bufferPoolSize: UInt64
    public var bufferPoolChunkSize: UInt64
    public var bufferPoolInstances: UInt64
    public var maxConnections: UInt64
    public var temporaryTableSize: UInt64
    public var logBufferSize: UInt64
    public var keyBufferSize: UInt64
    public var ariaPagecacheSize: UInt64
    public var temptableMaxRAM: UInt64
    public var maxAllowedPacket: UInt64
    public var sessionMemoryLimit: UInt64
    public var globalConnectionMemoryLimit: UInt64
    public var tableOpenCache: UInt64
    public var tableDefinitionCache: UInt64
    public var performanceSchema: Bool

    /// What the server holds besides its buffer pool and per-connection buffers: code, dictionary,
    /// threads, malloc's arenas (MariaDB 10.11: 44 MiB resident at start, about 75 MiB after bulk inserts).
    public static let serverReserve: UInt64 = 64 * mebibyte

    /// `ownConnection`: Lifeguard keeps a connection of its own (one more in `max_connections`).
    public init(offer: UInt64, ownConnection: Bool = false) {
        let mib = MySQLSizing.mebibyte
        self.offer = offer
        let available = offer > MySQLSizing.serverReserve ? offer - MySQLSizing.serverReserve : 0
        let half = max(16 * mib, available / 2 / mib * mib)
        if half >= MySQLSizing.gibibyte {
            bufferPoolInstances = 8
            bufferPoolChunkSize = half / 8 / mib * mib
        } else {
            bufferPoolInstances = 1
            bufferPoolChunkSize = half
        }
        bufferPoolSize = bufferPoolChunkSize * bufferPoolInstances
        maxConnections = min(10_000, max(10, offer / (12 * mib))) + (ownConnection ? 1 : 0)
        temporaryTableSize = min(64 * mib, max(4 * mib, offer / 32 / mib * mib))
        logBufferSize = offer < MySQLSizing.gibibyte ? 8 * mib : 16 * mib
        keyBufferSize = offer < MySQLSizing.gibibyte ? 8 * mib : 16 * mib
        ariaPagecacheSize = min(128 * mib, max(8 * mib, offer / 32 / mib * mib))
        temptableMaxRAM = min(MySQLSizing.gibibyte, max(16 * mib, offer / 16 / mib * mib))
        maxAllowedPacket = min(64 * mib, max(16 * mib, offer / 16 / mib * mib))
        let remainder = available > bufferPoolSize ? (available - bufferPoolSize) / mib * mib : 0
        sessionMemoryLimit = max(4 * maxAllowedPacket, remainder / 2 / mib * mib)
        globalConnectionMemoryLimit = max(sessionMemoryLimit, remainder)
        tableOpenCache = min(4000, max(200, offer / mib))
        tableDefinitionCache = min(2000, max(400, offer / mib))
        performanceSchema = offer >= MySQLSizing.gibibyte
    }

    /// The variables of the template that only one server knows: rendered for that server alone when
    /// the flavour is known (the other would log an unknown-variable warning at every start).
    static let onlyMySQL: Set<String> = ["temptable_max_ram", "temptable_max_mmap", "connection_memory_limit",
                                         "global_connection_memory_limit", "global_connection_memory_tracking", "auth_socket_plugin"]
    static let onlyMariaDB: Set<String> = ["aria_pagecache_buffer_size", "max_session_mem_used"]

    /// The variables for one server: the other server's own are empty, which drops their lines.
    public func variables(for flavor: ServerFlavor?) -> [String: String] {
        var values = variables
        let foreign: Set<String>
        switch flavor {
        case .mysql: foreign = MySQLSizing.onlyMariaDB
        case .mariadb: foreign = MySQLSizing.onlyMySQL
        // Unknown: every loose- key is harmless to the other server (a warning at most), but loading a
        // plugin is not, so MySQL's auth_socket is left to a known MySQL.
        case nil: foreign = ["auth_socket_plugin"]
        }
        for key in foreign { values[key] = "" }
        return values
    }

    /// The values the template names, as `{{name}}` placeholders.
    public var variables: [String: String] {
        func size(_ bytes: UInt64) -> String { bytes % MySQLSizing.mebibyte == 0 ? "\(bytes / MySQLSizing.mebibyte)M" : "\(bytes)" }
        return [
            "offer": size(offer),
            "innodb_buffer_pool_size": size(bufferPoolSize),
            "innodb_buffer_pool_chunk_size": size(bufferPoolChunkSize),
            // Rendered only where it matters (MySQL with 8 instances; MariaDB ignores it and warns).
            "innodb_buffer_pool_instances": bufferPoolInstances > 1 ? String(bufferPoolInstances) : "",
            "max_connections": String(maxConnections),
            "tmp_table_size": size(temporaryTableSize),
            "max_heap_table_size": size(temporaryTableSize),
            "innodb_log_buffer_size": size(logBufferSize),
            "key_buffer_size": size(keyBufferSize),
            "aria_pagecache_buffer_size": size(ariaPagecacheSize),
            "temptable_max_ram": size(temptableMaxRAM),
            "temptable_max_mmap": size(temptableMaxRAM),
            "max_allowed_packet": size(maxAllowedPacket),
            "max_session_mem_used": size(sessionMemoryLimit),
            "connection_memory_limit": size(sessionMemoryLimit),
            "global_connection_memory_limit": size(globalConnectionMemoryLimit),
            "global_connection_memory_tracking": "ON",
            "auth_socket_plugin": "auth_socket.so",
            "table_open_cache": String(tableOpenCache),
            "table_definition_cache": String(tableDefinitionCache),
            "performance_schema": performanceSchema ? "ON" : "OFF",
        ]
    }
}
