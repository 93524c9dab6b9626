/// Sizes as people read them.
public enum ByteCount {
    /// "243.8 MiB".
    public static func describe(_ value: UInt64?) -> String {
        guard let value else { return "-" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = Double(value)
        var unit = 0
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 { return "\(value) B" }
        return "\(Double(Int(scaled * 10)) / 10) \(units[unit])"
    }
}
