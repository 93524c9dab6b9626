import Foundation
@testable import LifeguardCgroup
@testable import LifeguardImage
@testable import LifeguardStatus
@testable import LifeguardSupervisor
@testable import LifeguardSystem
import Testing

/// The README's configuration table must list exactly the settings Lifeguard has.
@Suite("Documentation")
struct ReadmeTests {
    static func readme() throws -> String { try repositoryFile("README.md") }

    /// A file of the repository (found from this source file up to Package.swift).
    static func repositoryFile(_ name: String) throws -> String {
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate.path),
               FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return try String(contentsOf: candidate, encoding: .utf8)
            }
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test("the README's settings table matches Configuration.settings")
    func settingsTable() throws {
        let readme = try Self.readme()
        let start = try #require(readme.range(of: "<!-- settings-table"))
        let end = try #require(readme.range(of: "<!-- end settings-table -->"))
        let table = readme[start.upperBound..<end.lowerBound]
        let rows = table.split(separator: "\n").filter { $0.hasPrefix("| `LIFEGUARD_") }.map(String.init)
        let expected = Configuration.settings.map { setting in
            "| `\(setting.variable)` | \(setting.flag.map { "`\($0)`" } ?? "") | `\(setting.defaultValue)` | \(setting.summary) |"
        }
        #expect(rows == expected, "the README's table should read:\n\(expected.joined(separator: "\n"))")
    }
}
