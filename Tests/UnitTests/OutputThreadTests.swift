import Glibc
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// The output thread: what the loop hands over is written, in order; a stderr that never drains costs
/// dropped lines and a bounded wait at exit, never a blocked loop.
@Suite("Output thread")
struct OutputThreadTests {
    /// A pipe: (read end, write end).
    func pipe() throws -> (FileDescriptor, FileDescriptor) {
        var ends: [Int32] = [0, 0]
        guard Glibc.pipe(&ends) == 0 else { throw Errno.current }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }

    func readAvailable(_ fd: FileDescriptor) -> String {
        _ = fcntl(fd.rawValue, F_SETFL, O_NONBLOCK)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd.rawValue, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("log lines in order, the status file written, flush waits for both")
    func writesInOrder() throws {
        let (reader, writer) = try pipe()
        defer { reader.close(); writer.close() }
        let tree = try FixtureTree()
        let files = StatusFiles(statusPath: tree.root + "/run/status.json", metricsPath: nil, logger: Logger(output: writer))
        let thread = OutputThread(files: files, output: writer)
        try thread.start()
        for number in 0..<100 { thread.append(line: "line \(number)\n") }
        var status = Status()
        status.state = .ready
        status.updatedAt = WallClockTime(secondsSinceEpoch: 1_795_619_547)
        thread.submit(status)
        thread.flush(timeout: .seconds(10))
        #expect(readAvailable(reader) == (0..<100).map { "line \($0)\n" }.joined())
        let written = try FileDescriptor.readText(tree.root + "/run/status.json")
        #expect(Status(json: written)?.state == .ready)
    }

    @Test("a stderr nobody reads: lines are dropped and counted, flush returns at its timeout")
    func blockedOutput() throws {
        let (reader, writer) = try pipe()
        defer { reader.close(); writer.close() }
        let thread = OutputThread(files: nil, output: writer, logCapacity: 4096)
        try thread.start()
        let line = String(repeating: "x", count: 1023) + "\n"
        // The pipe is full before the first line: the thread blocks in write(2) at once.
        _ = fcntl(writer.rawValue, F_SETFL, O_NONBLOCK)
        let filler = [UInt8](repeating: UInt8(ascii: "f"), count: 4096)
        while write(writer.rawValue, filler, filler.count) > 0 {}
        _ = fcntl(writer.rawValue, F_SETFL, 0)
        let start = MonotonicInstant.now()
        for _ in 0..<200 { thread.append(line: line) }
        // Never blocked by the thread: 200 appends take far less than a second even on a loaded machine.
        #expect((MonotonicInstant.now() - start) < .seconds(1))
        let flushStart = MonotonicInstant.now()
        thread.flush(timeout: .milliseconds(300))
        let waited = MonotonicInstant.now() - flushStart
        // At least the timeout (the pipe is full), and not forever: generous upper bound for a busy CI.
        #expect(waited >= .milliseconds(290) && waited < .seconds(5), "\(waited)")
        // Reading frees the thread; the dropped lines are counted in a line of their own.
        var drained = readAvailable(reader)
        thread.flush(timeout: .seconds(10))
        drained += readAvailable(reader)
        thread.flush(timeout: .seconds(10))
        drained += readAvailable(reader)
        #expect(drained.contains("log line(s) dropped: stderr did not keep up"), "\(drained.suffix(200))")
        // What the queue held (4 KiB: four lines) is written; the rest was dropped.
        let written = drained.split(separator: "\n").filter { $0.hasSuffix("xxxxxxxx") }.count
        #expect(written >= 4 && written < 200, "\(written) lines written")
    }

    @Test("only the latest status is written when several wait")
    func latestStatusWins() throws {
        let tree = try FixtureTree()
        let files = StatusFiles(statusPath: tree.root + "/status.json", metricsPath: nil, logger: Logger())
        let thread = OutputThread(files: files)
        try thread.start()
        for restarts in 1...50 {
            var status = Status()
            status.restarts = restarts
            status.updatedAt = WallClockTime(secondsSinceEpoch: 1_795_619_547)
            thread.submit(status)
        }
        thread.flush(timeout: .seconds(10))
        #expect(Status(json: try FileDescriptor.readText(tree.root + "/status.json"))?.restarts == 50)
    }
}
