@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

@Suite("Logs and timestamps")
struct LoggerTests {
    let time = WallClockTime(secondsSinceEpoch: 1_795_619_547, nanoseconds: 123_456_789)

    @Test("logfmt quotes only what needs quoting")
    func logfmt() {
        let line = Logger.render(format: .logfmt, time: time, level: .warn, message: "child exited",
                                 fields: [("pid", 42), ("status", "exited with code 1"), ("path", "/a=b"), ("ok", .bool(true)),
                                          ("empty", ""), ("ratio", .double(0.5)), ("none", .null)])
        #expect(line == #"ts=2026-11-25T15:12:27.123Z level=warn msg="child exited" pid=42 status="exited with code 1" path="/a=b" ok=true empty="" ratio=0.5 none=null"# + "\n")
    }

    @Test("JSON lines keep types and escape strings")
    func json() {
        let line = Logger.render(format: .json, time: time, level: .info, message: "say \"hi\"\n",
                                 fields: [("pid", 42), ("grace_period_s", .double(60)), ("bell", "\u{7}")])
        #expect(line == #"{"ts":"2026-11-25T15:12:27.123Z","level":"info","msg":"say \"hi\"\n","pid":42,"grace_period_s":60,"bell":"\u0007"}"# + "\n")
    }

    @Test("RFC 3339 in UTC, both ways")
    func rfc3339() {
        #expect(time.rfc3339() == "2026-11-25T15:12:27.123Z")
        #expect(time.rfc3339(milliseconds: false) == "2026-11-25T15:12:27Z")
        #expect(WallClockTime(secondsSinceEpoch: 0).rfc3339() == "1970-01-01T00:00:00.000Z")
        #expect(WallClockTime(secondsSinceEpoch: 951_782_400).rfc3339(milliseconds: false) == "2000-02-29T00:00:00Z")
        #expect(WallClockTime.parseRFC3339("2026-11-25T15:12:27Z")?.secondsSinceEpoch == 1_795_619_547)
        #expect(WallClockTime.parseRFC3339("2026-11-25T15:12:27.5Z")?.nanoseconds == 500_000_000)
        #expect(WallClockTime.parseRFC3339("2026-11-25T16:12:27+01:00")?.secondsSinceEpoch == 1_795_619_547)
        for bad in ["", "2026-11-25", "2026-13-01T00:00:00Z", "2026-11-25T15:12:27", "2026-11-25T15:12:27Zjunk", "2026-11-25T15:12:27.Z"] {
            #expect(WallClockTime.parseRFC3339(bad) == nil, "\(bad)")
        }
        // Every day for 60 years round-trips.
        var seconds: Int64 = 0
        while seconds < 60 * 365 * 86_400 {
            let wall = WallClockTime(secondsSinceEpoch: seconds)
            #expect(WallClockTime.parseRFC3339(wall.rfc3339(milliseconds: false))?.secondsSinceEpoch == seconds)
            seconds += 86_400 + 3_661
        }
    }

    @Test("levels filter")
    func levels() {
        let logger = Logger(minimumLevel: .warn)
        #expect(!logger.isEnabled(.info))
        #expect(logger.isEnabled(.error))
        #expect(LogLevel(name: "WARNING") == .warn)
    }
}
