import LifeguardCgroup
import LifeguardMySQL
import LifeguardStatus
import LifeguardSystem

/// The shed, performed: after each memory sample that did not stop the server, the level goes to the
/// `Shedder`; its questions go over Lifeguard's connection (`ServerLink`), their answers come back
/// from the link's events. None of this runs before a stop: the stop comes first in each turn, and
/// abandons the shed (SupervisorLoop+Perform.swift).
extension SupervisorLoop {
    func shedStep(now: MonotonicInstant) {
        guard let shedding, let link = health.link else { return }
        guard machine.serviceState == .ready, let memory, let shedLevel = memory.shedLevel, let minimum = memory.shedMinimum,
              let reading = memory.lastReading else {
            if shedding.shedder.isShedding { shedding.abandon() }
            return
        }
        // Only an exact reading may lead to a kill; usage alone proves only that the level is below.
        let level: UInt64
        if reading.isExact {
            level = reading.unreclaimable
        } else if reading.usage < shedLevel {
            level = reading.usage
        } else {
            return
        }
        performShed(shedding.shedder.observe(level: level, shedLevel: shedLevel, minimum: minimum, now: now, canAsk: link.canSend),
                    now: now)
    }

    /// An answer on Lifeguard's connection, for the question in flight.
    func shedAnswered(_ event: ServerLink.Event, now: MonotonicInstant) {
        guard let shedding, let question = shedding.question else { return }
        let actions: [Shedder.Action]
        switch (event, question) {
        case (.result(.rows(_, let rows)), .runaway):
            shedding.question = nil
            switch RunawayQuery.candidate(from: rows) {
            case .success(let largest):
                actions = shedding.shedder.found(largest, minimum: memory?.shedMinimum ?? .max, now: now)
            case .failure(let error):
                actions = shedding.shedder.questionFailed(error.description, now: now)
            }
        case (.result(.ok), .kill):
            shedding.question = nil
            actions = shedding.shedder.killAnswered(error: nil, now: now)
        case (.result(.error(let error)), .kill):
            shedding.question = nil
            actions = shedding.shedder.killAnswered(error: "\(error.code) \(error.message)", now: now)
        case (.result(.error(let error)), .runaway):
            shedding.question = nil
            actions = shedding.shedder.questionFailed("\(error.code) \(error.message)", now: now)
        case (.result, _):
            shedding.question = nil
            actions = shedding.shedder.questionFailed("an answer of the wrong kind", now: now)
        case (.lost(let reason), _):
            shedding.question = nil
            actions = shedding.shedder.questionFailed("the connection was lost: \(reason)", now: now)
        case (.outcome, _), (.pong, _), (.heard, _), (.unheard, _):
            return
        }
        performShed(actions, now: now)
    }

    private func performShed(_ actions: [Shedder.Action], now: MonotonicInstant) {
        guard let shedding, let link = health.link else { return }
        for action in actions {
            switch action {
            case .began(let level, let shedLevel):
                logger.info("memory above the shed level: looking for the connection that holds the most",
                            [("unreclaimable_bytes", LogValue(level)), ("shed_level_bytes", LogValue(shedLevel)),
                             ("trigger_bytes", LogValue(memory?.trigger))])
            case .lookForRunaway:
                guard let flavor = link.flavor else { continue }
                shedding.question = .runaway
                link.send(RunawayQuery.sql(for: flavor))
            case .kill(let candidate, let mode):
                shedding.question = .kill
                link.send(RunawayQuery.kill(candidate, mode))
            case .killed(let candidate, let mode):
                logger.warn(mode == .query ? "shed: killed the statement of the connection holding the most memory"
                                : "shed: killed the connection holding the most memory", Self.fields(candidate, mode))
                health.record(reason: "shed", detail: Self.detail(candidate, mode))
                statusDirty = true
            case .nothingToShed(let largest, let minimum):
                var fields: LogFields = [("minimum_bytes", LogValue(minimum)), ("largest_bytes", LogValue(largest?.memory)),
                                         ("largest_id", LogValue(largest?.id))]
                // MySQL reports no thread at all when performance_schema is off (the rendered settings, below 1 GiB).
                if largest == nil, link.flavor == .mysql { fields.append(("hint", "MySQL: the shed needs performance_schema=ON")) }
                logger.info("shed: no connection holds the shed minimum; the memory is not one session's", fields)
            case .failed(let reason):
                logger.warn("shed: cannot ask the server (the memory stop does not depend on it)", [("reason", .string(reason))])
            case .dropConnection:
                shedding.question = nil
                link.reconnect(now: now)
                checkChanged(health.check.unheard("no answer to the shed's question within \(shedding.shedder.settings.answerTimeout)", now: now), now: now)
            case .ended(let seconds, let kills):
                logger.info("memory back below the shed level", [("seconds", LogValue(seconds)), ("kills", LogValue(kills))])
            }
        }
    }

    /// Who was killed, never what it ran: the statement's text can hold secrets.
    static func fields(_ candidate: Shedder.Candidate, _ mode: Shedder.KillMode) -> LogFields {
        [("kill", .string(mode.rawValue)), ("id", LogValue(candidate.id)), ("user", .string(candidate.user)),
         ("host", .string(candidate.host)), ("db", LogValue(candidate.database)), ("command", .string(candidate.command)),
         ("seconds", LogValue(candidate.seconds)), ("memory_bytes", LogValue(candidate.memory))]
    }

    static func detail(_ candidate: Shedder.Candidate, _ mode: Shedder.KillMode) -> String {
        "\(mode.rawValue) \(candidate.id): \(candidate.user)@\(candidate.host)"
            + (candidate.database.map { ", database \($0)" } ?? "")
            + ", \(candidate.command) for \(candidate.seconds) s, \(candidate.memory) bytes"
    }
}
