@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
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

/// Properties of the size and duration parsers over many generated values, with 128-bit arithmetic
/// as the oracle: exact results, overflow refused (never wrapped), and nothing but the grammar accepted.
@Suite("Value parser properties")
struct ValueParserPropertyTests {
    static let units: [(spellings: [String], shift: Int)] = [
        (["", "b", "B"], 0), (["k", "K", "KB", "KiB", "Ki", "kib"], 10), (["m", "M", "MB", "MiB", "Mi", "mib"], 20),
        (["g", "G", "GB", "GiB", "Gi", "gib"], 30), (["t", "T", "TB", "TiB", "Ti", "tib"], 40),
    ]

    @Test("sizes: whole numbers in every unit spelling, exact or refused on overflow")
    func wholeSizes() {
        var generator = SplitMix64(seed: 0x512e)
        for round in 0..<4000 {
            // Spread over every magnitude: shift a random value right by a random amount.
            let value = generator.next() >> (generator.next() % 64)
            let unit = Self.units[round % Self.units.count]
            let spelling = unit.spellings[Int(generator.next() % UInt64(unit.spellings.count))]
            let exact = UInt128(value) << unit.shift
            let expected: UInt64? = exact <= UInt128(UInt64.max) ? UInt64(exact) : nil
            #expect(ValueParsers.size("\(value)\(spelling)") == expected, "\(value)\(spelling)")
        }
    }

    @Test("sizes with a fraction: truncated to whole bytes, exactly")
    func fractionalSizes() {
        var generator = SplitMix64(seed: 0xf7ac)
        for round in 0..<4000 {
            let whole = generator.next() % 100_000
            let digits = Int(generator.next() % 9) + 1
            var scale: UInt64 = 1
            for _ in 0..<digits { scale *= 10 }
            let fraction = generator.next() % scale
            let text = "\(whole)." + String(repeating: "0", count: digits - String(fraction).count) + String(fraction)
            let unit = Self.units[1 + round % (Self.units.count - 1)]
            let expected = (UInt128(whole) * UInt128(scale) + UInt128(fraction)) << unit.shift / UInt128(scale)
            #expect(ValueParsers.size(text + unit.spellings[1]) == UInt64(expected), "\(text)\(unit.spellings[1])")
        }
    }

    @Test("durations: every unit exact up to Int64 nanoseconds, refused beyond")
    func durations() {
        var generator = SplitMix64(seed: 0xd0a7)
        let units: [(String, UInt64)] = [("", 1_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("m", 60_000_000_000),
                                         ("h", 3_600_000_000_000)]
        for round in 0..<4000 {
            let value = generator.next() >> (generator.next() % 64)
            let (unit, nanoseconds) = units[round % units.count]
            let exact = UInt128(value) * UInt128(nanoseconds)
            let expected: Duration? = exact <= UInt128(Int64.max) ? .nanoseconds(Int64(exact)) : nil
            #expect(ValueParsers.duration("\(value)\(unit)") == expected, "\(value)\(unit)")
        }
    }

    @Test("random text: never a crash, and nothing accepted outside the grammar")
    func randomText() {
        var generator = SplitMix64(seed: 0x7e47)
        let alphabet = Array("0123456789..--  %/sSmMhHkKgGtTiIbBx\n\u{0}é∞+eE")
        let sizeUnits = Set(Self.units.flatMap(\.spellings).map { $0.lowercased() })
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 8)
            let text = String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            let (number, unit) = Self.split(text)
            let wellFormed = number.contains(where: \.isNumber) && number.last != "."
                && number.filter { $0 == "." }.count <= 1
            if ValueParsers.size(text) != nil {
                #expect(wellFormed && sizeUnits.contains(unit.lowercased()), "size accepted \(text.debugDescription)")
            }
            if ValueParsers.duration(text) != nil {
                #expect(wellFormed && ["", "s", "ms", "m", "h"].contains(unit.lowercased()), "duration accepted \(text.debugDescription)")
            }
            _ = ValueParsers.rate(text)
            _ = ValueParsers.trigger(text)
            _ = ValueParsers.headroom(text)
            _ = ValueParsers.percentage(text)
        }
    }

    /// "12.5MiB" → ("12.5", "MiB").
    static func split(_ text: String) -> (String, String) {
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        return (String(number), String(text.dropFirst(number.count)))
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
