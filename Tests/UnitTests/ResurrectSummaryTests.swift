import Foundation
@testable import LifeguardStatus
@testable import LifeguardSystem
import Testing

@Suite("The status file's resurrect entry")
struct ResurrectSummaryTests {
    /// The head of a report resurrect/report.sh wrote on this machine (a damaged InnoDB page).
    static let report = """
        {
          "outcome": "resurrected_with_losses",
          "exit_code": 11,
          "reason": null,
          "datadir": "/var/lib/mysql",
          "kept": "/var/lib/mysql/.lifeguard-kept-20261203T063352Z",
          "keep_days": 7,
          "started_at": "2026-12-03T06:33:48Z",
          "finished_at": "2026-12-03T06:33:52Z",
          "force_recovery": 0,
          "tables_dumped": 3,
          "rows_dumped": 15000,
          "counts": {"tables": 4, "views": 0, "routines": 1, "triggers": 1, "events": 0, "users": 2},
          "repaired": ["a.m"],
          "lost": [{"database": "a", "table": "t2", "engine": "InnoDB", "estimated_rows": 0, "error": "ERROR 1030"}],
          "steps": [
            {"step": "copy", "force_recovery": 0, "result": "ok", "seconds": 0.088, "detail": "133M"}
          ]
        }
        """

    @Test("the script's report read as a summary, carried by the status file and read back")
    func roundTrip() throws {
        let summary = try #require(JSONValue.parse(Self.report).flatMap(ResurrectSummary.init(json:)))
        #expect(summary == ResurrectSummary(outcome: "resurrected_with_losses", exitCode: 11,
                                            finishedAt: WallClockTime.parseRFC3339("2026-12-03T06:33:52Z"),
                                            kept: "/var/lib/mysql/.lifeguard-kept-20261203T063352Z", lostTables: 1))
        #expect(summary.description == "resurrected_with_losses (exit 11) at 2026-12-03T06:33:52.000Z: 1 table lost, the original kept in /var/lib/mysql/.lifeguard-kept-20261203T063352Z")
        var status = Status()
        status.updatedAt = WallClockTime(secondsSinceEpoch: 1_795_619_547)
        #expect(status.json.contains("\"resurrect\": null"))
        status.resurrect = summary
        #expect(status.json.contains("\"lost_tables\": 1"))
        #expect(Status(json: status.json)?.resurrect == summary)
        #expect(StatusCommand.rows(for: status, age: .zero).contains { $0 == ("resurrect", summary.description) })
    }

    @Test("garbage, a report without an outcome, and nothing-to-do")
    func badReports() {
        #expect(JSONValue.parse("{\"exit_code\": 0}").flatMap(ResurrectSummary.init(json:)) == nil)
        #expect(JSONValue.parse("[1, 2]").flatMap(ResurrectSummary.init(json:)) == nil)
        let nothing = JSONValue.parse("{\"outcome\": \"nothing_to_do\", \"exit_code\": 0, \"kept\": null, \"lost\": []}").flatMap(ResurrectSummary.init(json:))
        #expect(nothing?.description == "nothing_to_do (exit 0)")
    }

    @Test("the watch reads the report beside the status file when it appears or changes, and forgets it when it goes")
    func watch() throws {
        let tree = try FixtureTree()
        var watch = ResurrectWatch(statusFile: tree.root + "/status.json")
        watch.refresh()
        #expect(watch.current == nil)
        try tree.write(ResurrectSummary.fileName, Self.report)
        watch.refresh()
        #expect(watch.current?.outcome == "resurrected_with_losses")
        try tree.write(ResurrectSummary.fileName, "{\"outcome\": \"could_not\", \"exit_code\": 1, \"lost\": []}")
        watch.refresh()
        #expect(watch.current?.outcome == "could_not")
        try tree.remove(ResurrectSummary.fileName)
        watch.refresh()
        #expect(watch.current == nil)
        var none = ResurrectWatch(statusFile: nil)
        none.refresh()
        #expect(none.current == nil)
    }

    @Test("the script writes the report under the name Lifeguard watches")
    func sameName() throws {
        let entrypoint = try ReadmeTests.repositoryFile("docker-entrypoint.sh")
        #expect(entrypoint.contains("readonly RESURRECT_STATUS=\(ResurrectSummary.fileName)\n"))
    }
}
