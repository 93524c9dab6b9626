// libFuzzer entry points over Lifeguard's parsers of outside input (built by scripts/fuzz with
// `swiftc -sanitize=fuzzer` together with the library targets; not part of the package build).
// LIFEGUARD_FUZZ_TARGET picks the parser:
//   cgroup  — cgroup file contents (integers, limits, keyed files) and /proc/self/cgroup + mountinfo
//   config  — the command line and LIFEGUARD_* values
//   notify  — sd_notify datagrams
//   status  — status files as the probe reads them (JSON), and MySQL handshake greetings
import Glibc
@testable import LifeguardCgroup
@testable import LifeguardMySQL
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem

nonisolated(unsafe) var fuzzTarget = "cgroup"

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let name = getenv("LIFEGUARD_FUZZ_TARGET") { fuzzTarget = String(cString: name) }
    guard ["cgroup", "config", "notify", "status", "mysql"].contains(fuzzTarget) else {
        let message = "fuzz: unknown LIFEGUARD_FUZZ_TARGET \(fuzzTarget)\n"
        _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch fuzzTarget {
    case "cgroup": fuzzCgroup(bytes)
    case "config": fuzzConfig(bytes)
    case "notify": _ = NotifyMessage(bytes)
    case "mysql": fuzzMySQL(bytes)
    default: fuzzStatus(bytes)
    }
    return 0
}

func fuzzCgroup(_ bytes: UnsafeRawBufferPointer) {
    _ = CgroupFileParser.integer(bytes)
    _ = CgroupFileParser.limit(bytes)
    _ = CgroupFileParser.keyedValue(bytes, key: "total_inactive_file")
    _ = CgroupFileParser.keyedValue(bytes, key: "oom_kill")
    // memory.stat as each version reads it, and the figures made from it (no trap on any input).
    for (version, cap) in [(CgroupVersion.v1, MemoryStat.v1CountedWritesCap(trigger: 255_652_815, hardLimit: 1 << 28)),
                           (.v2, UInt64.max)] {
        if let stat = MemoryStat.parse(bytes, version: version, countedWritesCap: cap) {
            let reading = MemoryReading(usage: CgroupFileParser.integer(bytes) ?? 1 << 28, stat: stat)
            _ = (reading.unreclaimable, reading.workingSet, reading.anonymousAndKernel)
        }
    }
    // The same bytes as /proc/self/cgroup, then split at the first NUL into cgroup + mountinfo.
    let text = String(decoding: bytes, as: UTF8.self)
    let parts = text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false)
    let mountInfo = parts.count > 1 ? String(parts[1]) : nil
    if let location = CgroupLocation.discover(root: "/sys/fs/cgroup", procSelfCgroup: String(parts[0]), mountInfo: mountInfo,
                                              exists: { $0.utf8.count % 3 != 0 }) {
        _ = location.selfAndAncestors
    }
}

func fuzzConfig(_ bytes: UnsafeRawBufferPointer) {
    // NUL-separated: arguments, then after an empty one, NAME=value pairs.
    let fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let split = fields.firstIndex(of: "") ?? fields.count
    var environment: [String: String] = [:]
    for pair in fields[min(split + 1, fields.count)...] {
        guard let equals = pair.firstIndex(of: "=") else { continue }
        environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    _ = try? CommandLineParser.parse(arguments: Array(fields[..<split]), environment: environment)
    let text = String(decoding: bytes, as: UTF8.self)
    _ = ValueParsers.duration(text)
    _ = ValueParsers.size(text)
    _ = ValueParsers.trigger(text)
    _ = ValueParsers.headroom(text)
    _ = ValueParsers.rate(text)
    _ = ReadyAddress(text)
    _ = Configuration.suggestion(for: text)
}

func fuzzStatus(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    let now = MonotonicInstant(nanoseconds: 5_000_000_000_000)
    let wallNow = WallClockTime.now()
    // What the probe does with a file, in both modes, on the same boot and on another.
    for bootID in ["b", nil] as [String?] {
        _ = ProbeCommand.verdict(text: text, path: "/run/lifeguard/status.json", mode: .live, maxAge: nil,
                                 currentBootID: bootID, now: now, wallNow: wallNow)
        _ = ProbeCommand.verdict(text: text, path: "/run/lifeguard/status.json", mode: .ready, maxAge: .seconds(10),
                                 currentBootID: bootID, now: now, wallNow: wallNow)
    }
    if let status = Status(json: text) {
        // What `lifeguard status` and the metrics writer do with a parsed file.
        let age = StatusAge.age(of: status, currentBootID: status.bootID, now: now, wallNow: wallNow)
        _ = StatusCommand.rows(for: status, age: age)
        _ = StatusCommand.tableRow(name: "db", status: status, age: age)
        var writer = ByteWriter()
        status.encode(into: &writer)
        _ = MetricsText.render(status)
    }
    _ = MySQLGreeting.parse(Array(bytes))
}

/// What a server sends Lifeguard's client: the bytes as a whole stream from the greeting on, and (the
/// handshake done by the first bytes, if they do it) again as the answer to a query and to a ping.
func fuzzMySQL(_ bytes: UnsafeRawBufferPointer) {
    let stream = Array(bytes)
    var session = ClientSession(user: "lifeguard", maximumResultBytes: 4096)
    _ = session.receive(stream)
    _ = session.takeOutgoing()
    if session.isIdle {
        session.query("select 1")
        _ = session.receive(stream)
    }
    if session.isIdle {
        session.ping()
        _ = session.receive(stream)
    }
    _ = Greeting.parse(stream)
    _ = ResultSetPacket.row(stream, columns: 3)
    _ = ResultSetPacket.columnName(stream)
    _ = ServerError.parse(stream)
    _ = OKPacket.parse(stream)
}
