import LifeguardMySQL
import LifeguardStatus
import LifeguardSystem

/// Lifeguard's own connection to the server, performed: the link's socket, retries and deadlines;
/// what the server said goes to the shed (its questions), to the response check (readiness that
/// stays true: a COM_PING every few seconds while the server is ready) and to the replica check (a
/// replica is ready only while current). One command at a time: an answer belongs to the replica
/// check while it is asking, else to the shed.
extension SupervisorLoop {
    func serverLinkStep(_ link: ServerLink, woken: Bool, now: MonotonicInstant) {
        if woken || link.nextWake.map({ now >= $0 }) == true {
            for event in link.advance(now: now) {
                switch event {
                case .outcome(let outcome): linkOutcome(outcome, now: now)
                case .heard: checkChanged(health.check.heard(now: now), now: now)
                case .unheard(let reason): checkChanged(health.check.unheard(reason, now: now), now: now)
                case .result(let result) where health.replica?.isAsking == true: replicaAnswered(result, now: now)
                case .lost where health.replica?.isAsking == true: health.replica?.unanswered(now: now)
                case .result, .pong, .lost: shedAnswered(event, now: now)
                }
            }
        }
        guard machine.readiness != nil else { return }
        replicaStep(link, now: now)
        if health.check.pingOverdue(now: now) {
            link.reconnect(now: now)
            checkChanged(health.check.unheard("no answer to COM_PING within \(health.check.timeout)", now: now), now: now)
        } else if health.check.pingDue(now: now), link.canSend {
            health.check.pingSent(now: now)
            link.ping()
        }
    }

    /// A replica's state, asked between the pings when the link is free; no answer in time drops the
    /// connection (the question cannot be taken back) and leaves the verdict as it was.
    private func replicaStep(_ link: ServerLink, now: MonotonicInstant) {
        guard var replica = health.replica else { return }
        defer { health.replica = replica }
        if replica.overdue(now: now) {
            replica.unanswered(now: now)
            link.reconnect(now: now)
        } else if replica.askDue(now: now), link.canSend, let flavor = link.flavor {
            replica.asked(now: now)
            link.send(ReplicaCheck.sql(for: flavor))
        }
    }

    private func replicaAnswered(_ result: ClientSession.QueryResult, now: MonotonicInstant) {
        guard var replica = health.replica else { return }
        let before = replica.unanswerable
        let change = replica.answered(result, now: now)
        health.replica = replica
        if let reason = replica.unanswerable, reason != before {
            logger.warn("cannot read the replica's state: readiness does not include replication",
                        [("reason", .string(reason)), ("hint", "README: Lifeguard's own account (SLAVE MONITOR)")])
        }
        statusDirty = true
        switch change {
        case .behind(let reason)?: perform(machine.replicaFellBehind(reason, now: now), now: now)
        case .current?: perform(machine.replicaCaughtUp(now: now), now: now)
        case nil: break
        }
    }

    /// The server became ready: the link connects, the check starts.
    func serverReady(now: MonotonicInstant) {
        guard let link = health.link else { return }
        health.check.begin(now: now)
        health.replica?.begin(now: now)
        if let outcome = link.begin(now: now) { linkOutcome(outcome, now: now) }
    }

    /// A stop begins or the child is gone: the connection is dropped at once, the shed and the check end.
    func serverGone() {
        health.link?.end()
        health.check.end()
        health.replica?.end()
        shedding?.abandon()
    }

    func checkChanged(_ change: ResponseCheck.Change?, now: MonotonicInstant) {
        switch change {
        case .unresponsive(let failures, let reason)?:
            logger.debug("the server does not answer", [("reason", .string(reason))])
            perform(machine.serverUnresponsive(failures: failures, now: now), now: now)
        case .answering?:
            perform(machine.serverAnswering(now: now), now: now)
        case nil:
            break
        }
    }

    /// Whether the link works, said; a link that does not cannot ask a replica's state, which then
    /// holds nothing back.
    private func linkOutcome(_ outcome: ServerLink.Outcome, now: MonotonicInstant) {
        logServerLink(outcome)
        if case .unavailable = outcome { health.replica?.unanswered(now: now) }
    }

    func logServerLink(_ outcome: ServerLink.Outcome) {
        switch outcome {
        case .available(let version, _):
            logger.info("Lifeguard's own connection to the server works", [("account", .string((health.link?.user ?? ServerLink.user) + "@localhost")),
                                                                           ("server_version", .string(version))])
        case .unavailable(let reason):
            logger.warn("Lifeguard's own connection to the server does not work: no shedding (the memory stop needs no connection)",
                        [("account", .string((health.link?.user ?? ServerLink.user) + "@localhost")), ("reason", .string(reason)),
                         ("hint", "README: Lifeguard's own account")])
        }
    }
}
