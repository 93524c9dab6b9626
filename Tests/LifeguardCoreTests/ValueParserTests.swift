@testable import LifeguardCore
import Testing

@Suite("Value parsers")
struct ValueParserTests {
    @Test("durations", arguments: [
        ("60", Duration.seconds(60)), ("0", .zero), ("2.5", .milliseconds(2500)), ("500ms", .milliseconds(500)),
        ("90s", .seconds(90)), ("2m", .seconds(120)), ("1h", .seconds(3600)), ("1.5m", .seconds(90)),
        ("0.001", .milliseconds(1)), ("10S", .seconds(10)), ("1.0000000001", .seconds(1)),
    ])
    func validDurations(text: String, expected: Duration) {
        #expect(ValueParsers.duration(text) == expected)
    }

    @Test("rejected durations", arguments: [
        "", "abc", "-5", "+5", " 5", "5 ", "5 s", "5d", "5sec", "1e3", "1.2.3", ".", "5.", "ms", "s5",
        "99999999999999999999", "9999999999999h", "0x10",
    ])
    func invalidDurations(text: String) {
        #expect(ValueParsers.duration(text) == nil)
    }

    @Test("sizes", arguments: [
        ("268435456", UInt64(268_435_456)), ("0", 0), ("1K", 1024), ("1k", 1024), ("1KiB", 1024), ("1Ki", 1024),
        ("1KB", 1024), ("256M", 268_435_456), ("256MiB", 268_435_456), ("256Mi", 268_435_456), ("1G", 1 << 30),
        ("1.5G", 1_610_612_736), ("2T", 2 << 40), ("512b", 512), ("0.5K", 512),
    ])
    func validSizes(text: String, expected: UInt64) {
        #expect(ValueParsers.size(text) == expected)
    }

    @Test("rejected sizes", arguments: [
        "", "-1", "1X", "1MBB", "1 M", "M", "1e9", "1Mib ", "twelve", "99999999999999999999",
        "16777216T", "1.2.3G", "1GiBs", "100%",
    ])
    func invalidSizes(text: String) {
        #expect(ValueParsers.size(text) == nil)
    }

    @Test("percentages")
    func percentages() {
        #expect(ValueParsers.percentage("95%") == 95)
        #expect(ValueParsers.percentage("100%") == 100)
        #expect(ValueParsers.percentage("12.5%") == 12.5)
        for text in ["0%", "101%", "95", "%", "-5%", "95 %", "abc%", ""] {
            #expect(ValueParsers.percentage(text) == nil, "\(text)")
        }
    }

    @Test("booleans and counts")
    func booleansAndCounts() {
        for text in ["1", "true", "TRUE", "yes", "on"] { #expect(ValueParsers.boolean(text) == true) }
        for text in ["0", "false", "No", "off"] { #expect(ValueParsers.boolean(text) == false) }
        for text in ["", "2", "y", "enabled"] { #expect(ValueParsers.boolean(text) == nil) }
        #expect(ValueParsers.count("0") == 0)
        #expect(ValueParsers.count("42") == 42)
        for text in ["", "-1", "+1", "1.0", "1k", "99999999999999999999"] { #expect(ValueParsers.count(text) == nil) }
    }

    /// Property: any whole number of seconds, milliseconds or a unit multiple round-trips exactly.
    @Test("durations and sizes round-trip over many values")
    func roundTrips() {
        var generator = SplitMix64(seed: 0x5eed)
        for _ in 0..<2000 {
            let value = generator.next() % 1_000_000
            #expect(ValueParsers.duration("\(value)") == .seconds(value))
            #expect(ValueParsers.duration("\(value)ms") == .milliseconds(value))
            #expect(ValueParsers.size("\(value)") == value)
            #expect(ValueParsers.size("\(value)M") == value << 20)
            #expect(ValueParsers.size("\(value)GiB") == value << 30)
        }
    }
}

/// A small deterministic generator for property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
