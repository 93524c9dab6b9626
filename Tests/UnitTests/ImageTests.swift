import Foundation
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Server sizing, my.cnf.template and users")
struct ImageTests {
    static let mib: UInt64 = 1 << 20

    @Test("sizing: half of the offer less the server's reserve in whole chunks, offer ÷ 12 MiB connections, bounded buffers")
    func sizing() {
        let small = MySQLSizing(offer: 255_652_815)  // the article's offer in a 256 MiB container
        // (243.8 MiB − 64 MiB) ÷ 2, in whole MiB
        #expect(small.bufferPoolSize == 89 * Self.mib && small.bufferPoolChunkSize == 89 * Self.mib && small.bufferPoolInstances == 1)
        #expect(small.ariaPagecacheSize == 8 * Self.mib)
        #expect(small.temptableMaxRAM == 16 * Self.mib && small.maxAllowedPacket == 16 * Self.mib)
        #expect(small.maxConnections == 20)
        // Lifeguard's own connection takes a slot of its own, never the users' nor the one the server keeps for administrators.
        #expect(MySQLSizing(offer: 255_652_815, ownConnection: true).maxConnections == 21)
        #expect(MySQLSizing(offer: 1 << 20, ownConnection: true).maxConnections == 11)
        #expect(small.temporaryTableSize == 7 * Self.mib)
        // (243.8 − 64 − 89 MiB) ÷ 2 is 45 MiB, below four 16 MiB packets: 64 MiB a session, 90 MiB in all.
        #expect(small.sessionMemoryLimit == 64 * Self.mib && small.globalConnectionMemoryLimit == 90 * Self.mib)
        #expect(!small.performanceSchema)
        let large = MySQLSizing(offer: 8 << 30)
        // (8192 MiB − 64 MiB) ÷ 2 = 4064 MiB, eight chunks of 508 MiB
        #expect(large.bufferPoolInstances == 8 && large.bufferPoolChunkSize == 508 * Self.mib && large.bufferPoolSize == 4064 * Self.mib)
        #expect(large.ariaPagecacheSize == 128 * Self.mib)
        #expect(large.temptableMaxRAM == 512 * Self.mib && large.maxAllowedPacket == 64 * Self.mib)
        #expect(large.maxConnections == 682)
        #expect(large.temporaryTableSize == 64 * Self.mib)
        #expect(large.sessionMemoryLimit == 2032 * Self.mib && large.globalConnectionMemoryLimit == 4064 * Self.mib)
        #expect(large.performanceSchema)
        let start: UInt64 = 32 * Self.mib
        let end: UInt64 = 64 << 30
        for offer in stride(from: start, through: end, by: Int(97 * Self.mib)) {
            let sizing = MySQLSizing(offer: offer)
            #expect(sizing.bufferPoolSize == sizing.bufferPoolChunkSize * sizing.bufferPoolInstances, "\(offer)")
            #expect(sizing.bufferPoolSize <= max(offer / 2, 16 * Self.mib), "\(offer)")
            #expect(sizing.bufferPoolSize % Self.mib == 0)
            #expect((10...10_000).contains(sizing.maxConnections))
            #expect(sizing.sessionMemoryLimit >= 4 * sizing.maxAllowedPacket && sizing.sessionMemoryLimit % Self.mib == 0)
            #expect(sizing.globalConnectionMemoryLimit >= sizing.sessionMemoryLimit)
            if offer >= 256 * Self.mib {
                // One session at its limit, the pool and the server's reserve stay under the offer.
                #expect(sizing.bufferPoolSize + sizing.sessionMemoryLimit + MySQLSizing.serverReserve < offer, "\(offer)")
            }
            // Every connection's own buffers (sort, join, read, read_rnd, and about 128 KiB of network
            // buffer and thread stack), the pool and the log buffer fit in the offer with room to spare.
            let perConnection: UInt64 = (256 + 256 + 128 + 256 + 128) * 1024
            let total: UInt64 = sizing.bufferPoolSize + sizing.maxConnections * perConnection + sizing.logBufferSize
            if offer >= 256 * Self.mib {
                #expect(total < offer * 3 / 4, "\(offer)")
            }
        }
    }

    @Test("option names normalize like the server's")
    func keys() {
        #expect(ConfigTemplate.normalizedKey("--innodb-buffer-pool-size=1G") == "innodb_buffer_pool_size")
        #expect(ConfigTemplate.normalizedKey("loose-innodb_buffer_pool_chunk_size") == "innodb_buffer_pool_chunk_size")
        #expect(ConfigTemplate.normalizedKey("  Max_Connections ") == "max_connections")
        #expect(ConfigTemplate.normalizedKey("--skip-performance-schema") == "performance_schema")
        let keys = ConfigTemplate.userKeys(printDefaultsOutput: "--user=mysql\n--max_connections=50\nnot an option\n",
                                           arguments: ["--innodb-buffer-pool-size=1G", "value"])
        #expect(keys == ["user", "max_connections", "innodb_buffer_pool_size"])
    }

    @Test("rendering: placeholders filled, the user's keys left out, LIFEGUARD_MYSQLD_ overrides, empty values dropped")
    func render() throws {
        let template = "# offer {{offer}}\n[mysqld]\ninnodb_buffer_pool_size = {{innodb_buffer_pool_size}}\nmax_connections = {{max_connections}}\nloose-innodb_buffer_pool_instances = {{innodb_buffer_pool_instances}}\nsort_buffer_size = 256K\n"
        let variables = MySQLSizing(offer: 255_652_815).variables
        let rendered = ConfigTemplate.render(template, variables: variables, userKeys: ["max_connections"],
                                             overrides: ConfigTemplate.overrides(environment: ["LIFEGUARD_MYSQLD_SORT_BUFFER_SIZE": "1M", "OTHER": "x"]))
        #expect(rendered == "# offer 255652815\n[mysqld]\ninnodb_buffer_pool_size = 89M\n# max_connections: set by you, left as you set it\nsort_buffer_size = 1M\n")
        // The shipped template renders into options both servers know (or loose- ones) and fills every placeholder.
        let shipped = try String(contentsOfFile: Self.repositoryFile("my.cnf.template"), encoding: .utf8)
        for offer: UInt64 in [256 * Self.mib, 1 << 30, 8 << 30] {
            let text = ConfigTemplate.render(shipped, variables: MySQLSizing(offer: offer).variables, userKeys: [], overrides: [:])
            #expect(!text.contains("{{"), "\(offer)")
            #expect(text.contains("innodb_buffer_pool_size = "))
        }
    }

    @Test("a key only one server knows is rendered for that server alone, and for both when the flavour is unknown")
    func flavors() throws {
        let shipped = try String(contentsOfFile: Self.repositoryFile("my.cnf.template"), encoding: .utf8)
        let sizing = MySQLSizing(offer: 255_652_815)
        func rendered(_ flavor: ServerFlavor?) -> String {
            ConfigTemplate.render(shipped, variables: sizing.variables(for: flavor), userKeys: [], overrides: [:])
        }
        #expect(rendered(.mariadb).contains("aria_pagecache_buffer_size = 8M") && !rendered(.mariadb).contains("temptable"))
        #expect(rendered(.mysql).contains("temptable_max_ram = 16M") && rendered(.mysql).contains("temptable_max_mmap = 16M"))
        #expect(!rendered(.mysql).contains("aria_pagecache"))
        #expect(rendered(.mariadb).contains("loose-max_session_mem_used = 64M") && !rendered(.mariadb).contains("connection_memory"))
        #expect(rendered(.mysql).contains("loose-connection_memory_limit = 64M") && rendered(.mysql).contains("loose-global_connection_memory_limit = 90M")
                && rendered(.mysql).contains("loose-global_connection_memory_tracking = ON") && !rendered(.mysql).contains("max_session_mem_used ="))
        #expect(rendered(nil).contains("aria_pagecache_buffer_size") && rendered(nil).contains("temptable_max_ram"))
        #expect(rendered(.mysql).contains("loose-plugin-load-add = auth_socket.so"))
        #expect(!rendered(.mariadb).contains("plugin-load") && !rendered(nil).contains("plugin-load"))
        for flavor: ServerFlavor? in [.mysql, .mariadb, nil] {
            #expect(rendered(flavor).contains("max_allowed_packet = 16M"))
        }
    }

    @Test("the README's sizing table, keyed by --memory, is what render-config gives")
    func readmeTable() throws {
        let readme = try ReadmeTests.readme()
        for (limit, label) in [(UInt64(256) * Self.mib, "256m"), (1 << 30, "1g"), (8 << 30, "8g")] {
            let offer = Headroom.percent(5).trigger(forHardLimit: limit)
            let sizing = MySQLSizing(offer: offer).variables
            let offerText = String(format: "%.1f MiB", Double(offer) / Double(Self.mib))
            let columns = ["innodb_buffer_pool_size", "max_connections", "tmp_table_size", "temptable_max_ram", "max_allowed_packet",
                           "max_session_mem_used", "global_connection_memory_limit", "aria_pagecache_buffer_size", "key_buffer_size", "table_open_cache", "performance_schema"].map { sizing[$0]! }
            let row = "| `\(label)` | \(offerText) | " + columns.joined(separator: " | ") + " |"
            #expect(readme.contains(row), "the README's sizing table should have: \(row)")
        }
    }

    @Test("users and groups from /etc/passwd and /etc/group")
    func users() {
        let database = UserDatabase(passwd: "root:x:0:0:root:/root:/bin/bash\nmysql:x:999:999::/var/lib/mysql:/bin/false\nbroken:x:abc\n",
                                    group: "root:x:0:\nmysql:x:999:\nbackup:x:34:mysql,other\n")
        #expect(database.resolve("mysql")! == (uid: 999, gid: 999, groups: [34, 999], home: "/var/lib/mysql"))
        #expect(database.resolve("mysql:root")! == (uid: 999, gid: 0, groups: [0], home: "/var/lib/mysql"))
        #expect(database.resolve("1000:1000")! == (uid: 1000, gid: 1000, groups: [1000], home: "/"))
        #expect(database.resolve("999")!.home == "/var/lib/mysql")
        #expect(database.resolve("nobody") == nil)
        #expect(database.resolve("mysql:nogroup") == nil)
        #expect(database.resolve("") == nil)
    }

    static func repositoryFile(_ name: String) throws -> String {
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) { return directory.appendingPathComponent(name).path }
        }
        throw CocoaError(.fileNoSuchFile)
    }
}
