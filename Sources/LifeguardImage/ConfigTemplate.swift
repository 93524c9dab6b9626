import LifeguardCgroup
import LifeguardSupervisor
import LifeguardSystem

/// Renders my.cnf.template: `{{name}}` placeholders filled from `MySQLSizing`, and every `key = value`
/// line whose key the user has set anywhere (option files, the command line) left out, so what the
/// user sets always wins and never has to fight an include order. `LIFEGUARD_MYSQLD_<KEY>` variables
/// replace a rendered value.
public enum ConfigTemplate {
    /// A server option name as MySQL compares them: lower case, dashes as underscores, no `--` and no
    /// `loose-`/`skip-`/`enable-`/`disable-` prefix, no value. (`maximum-` is kept: `maximum-x` sets the
    /// ceiling of x, not x, so the template's own `x` line stays.)
    public static func normalizedKey(_ option: String) -> String {
        var key = Substring(option)
        while key.hasPrefix("-") { key = key.dropFirst() }
        if let equals = key.firstIndex(of: "=") { key = key[..<equals] }
        var text = ValueParsers.asciiLowercased(String(key).replacingAll("-", with: "_")).trimmingSpaces
        for prefix in ["loose_", "skip_", "enable_", "disable_"] where text.hasPrefix(prefix) {
            text.removeFirst(prefix.count)
        }
        return text
    }

    /// The keys set in `my_print_defaults` output (one `--key=value` per line) and in server arguments.
    public static func userKeys(printDefaultsOutput: String, arguments: [String]) -> Set<String> {
        var keys = Set<String>()
        for line in printDefaultsOutput.split(separator: "\n") where line.hasPrefix("--") { keys.insert(normalizedKey(String(line))) }
        for argument in arguments where argument.hasPrefix("--") { keys.insert(normalizedKey(argument)) }
        return keys
    }

    /// The rendered file. `overrides` maps normalized keys to values (from LIFEGUARD_MYSQLD_*). A line
    /// whose placeholders render to nothing is left out (the server's default applies).
    public static func render(_ template: String, variables: [String: String], userKeys: Set<String>,
                              overrides: [String: String]) -> String {
        var output: [String] = []
        for line in template.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = String(line).trimmingSpaces
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), !trimmed.hasPrefix("["), !trimmed.hasPrefix("!"),
                  let equals = trimmed.firstIndex(of: "=") else {
                output.append(substitute(String(line), variables))
                continue
            }
            let rawKey = String(trimmed[..<equals])
            let key = normalizedKey(rawKey)
            if userKeys.contains(key) {
                output.append("# \(rawKey.trimmingSpaces): set by you, left as you set it")
            } else if let value = overrides[key] {
                output.append("\(rawKey.trimmingSpaces) = \(value)")
            } else {
                let rendered = substitute(String(line), variables)
                let value = rendered[rendered.index(after: rendered.firstIndex(of: "=")!)...]
                if !String(value).trimmingSpaces.isEmpty { output.append(rendered) }
            }
        }
        return output.joined(separator: "\n")
    }

    /// LIFEGUARD_MYSQLD_<KEY>=value variables, by normalized key.
    public static func overrides(environment: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix("LIFEGUARD_MYSQLD_") {
            result[normalizedKey(String(name.dropFirst("LIFEGUARD_MYSQLD_".count)))] = value
        }
        return result
    }

    static func substitute(_ line: String, _ variables: [String: String]) -> String {
        var result = line
        for (name, value) in variables { result = result.replacingAll("{{\(name)}}", with: value) }
        return result
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return String(text)
    }

    /// Every occurrence of `target` replaced (no Foundation, no regex).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        let needle = Array(target.utf8)
        let haystack = Array(utf8)
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle {
                let lower = utf8.index(utf8.startIndex, offsetBy: start)
                let upper = utf8.index(lower, offsetBy: needle.count)
                return lower..<upper
            }
        }
        return nil
    }
}
