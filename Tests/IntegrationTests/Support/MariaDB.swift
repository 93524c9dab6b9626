import Foundation
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSupervisor
import LifeguardSystem

/// A throwaway MariaDB server (Debian's mariadb-server): its own datadir and socket under /var/tmp,
/// initialised with mariadb-install-db, started by the test under Lifeguard.
final class MariaDB: @unchecked Sendable {
    static var available: Bool {
        // As root: the servers run as root, under Lifeguard as PID 1 of a new PID namespace.
        Prerequisites.isRoot && ["mariadbd", "mariadb", "mariadb-install-db"].allSatisfy { Prerequisites.executable($0) != nil }
    }

    let directory: String
    var dataDirectory: String { directory + "/data" }
    var socket: String { directory + "/sock" }
    var errorLog: String { directory + "/error.log" }

    init() throws {
        directory = "/var/tmp/lifeguard-mariadb-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let install = try TestProcess(["mariadb-install-db", "--no-defaults", "--user=root", "--datadir=\(dataDirectory)",
                                       "--auth-root-authentication-method=normal", "--skip-test-db"])
        guard install.exitCode(timeout: .seconds(120)) == 0 else {
            throw TestFailure("mariadb-install-db failed: \(install.stderr)")
        }
    }

    /// A filesystem mounted over the datadir by the test, unmounted (lazily) before the directory goes.
    var unmountAtEnd = false

    deinit {
        if unmountAtEnd { _ = try? TestProcess(["umount", "-l", dataDirectory]).exitCode() }
        if let pid = try? String(contentsOfFile: directory + "/pid", encoding: .utf8), let number = pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(number, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `mariadbd` and its options (append more); the buffer pool is kept small for a 256 MiB container.
    /// `defaultsFile`: the only option file read (a rendered my.cnf.template), instead of none.
    func serverCommand(_ extra: [String] = [], defaultsFile: String? = nil) -> [String] {
        ["mariadbd", defaultsFile.map { "--defaults-file=\($0)" } ?? "--no-defaults", "--user=root", "--datadir=\(dataDirectory)", "--socket=\(socket)",
         "--pid-file=\(directory)/pid", "--skip-networking", "--log-error=\(errorLog)", "--innodb-buffer-pool-size=64M",
         "--max-heap-table-size=1G"] + extra
    }

    /// Runs SQL through the client; returns (exit code, stdout, stderr).
    @discardableResult
    func query(_ sql: String, database: String? = nil, timeout: Duration = .seconds(120),
               maxAllowedPacket: String? = nil) throws -> (code: Int32?, output: String, error: String) {
        var arguments = ["mariadb", "-S", socket, "-uroot", "-N", "-B"]
        if let maxAllowedPacket { arguments.append("--max-allowed-packet=\(maxAllowedPacket)") }
        if let database { arguments.append(database) }
        let client = try TestProcess(arguments + ["-e", sql])
        let code = client.exitCode(timeout: timeout)
        return (code, client.stdout.trimmingCharacters(in: .whitespacesAndNewlines), client.stderr)
    }

    /// Waits until the error log holds `text` `count` times.
    func waitForLog(_ text: String, count: Int = 1, timeout: Duration = .seconds(90)) -> Bool {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            if logCount(text) >= count { return true }
            usleep(50_000)
        }
        return false
    }

    /// Waits until the server answers a query.
    func waitUntilReady(timeout: Duration = .seconds(60)) throws -> Bool {
        let deadline = MonotonicInstant.now() + timeout
        while MonotonicInstant.now() < deadline {
            if try query("select 1", timeout: .seconds(5)).code == 0 { return true }
            usleep(100_000)
        }
        return false
    }

    var log: String { (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "" }

    /// Lines of the error log matching `text`.
    func logCount(_ text: String) -> Int { log.components(separatedBy: text).count - 1 }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
