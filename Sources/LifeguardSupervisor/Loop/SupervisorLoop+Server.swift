import LifeguardStatus
import LifeguardSystem

/// Lifeguard's own connection to the server, performed: the link's socket, retries and deadlines;
/// what the server said goes to the shed (its questions) and to the response check (readiness that
/// stays true: a COM_PING every few seconds while the server is ready).
extension SupervisorLoop {
    func serverLinkStep(_ link: ServerLink, woken: Bool, now: MonotonicInstant) {
        if woken || link.nextWake.map({ now >= $0 }) == true {
            for event in link.advance(now: now) {
                switch event {
                case .outcome(let outcome): logServerLink(outcome)
                case .heard: checkChanged(health.check.heard(now: now), now: now)
                case .unheard(let reason): checkChanged(health.check.unheard(reason, now: now), now: now)
                case .result, .pong, .lost: shedAnswered(event, now: now)
                }
            }
        }
        guard machine.readiness != nil else { return }
        if health.check.pingOverdue(now: now) {
            link.reconnect(now: now)
            checkChanged(health.check.unheard("no answer to COM_PING within \(health.check.timeout)", now: now), now: now)
        } else if health.check.pingDue(now: now), link.canSend {
            health.check.pingSent(now: now)
            link.ping()
        }
    }

    /// The server became ready: the link connects, the check starts.
    func serverReady(now: MonotonicInstant) {
        guard let link = health.link else { return }
        health.check.begin(now: now)
        if let outcome = link.begin(now: now) { logServerLink(outcome) }
    }

    /// A stop begins or the child is gone: the connection is dropped at once, the shed and the check end.
    func serverGone() {
        health.link?.end()
        health.check.end()
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

    func logServerLink(_ outcome: ServerLink.Outcome) {
        switch outcome {
        case .available(let version, _):
            logger.info("Lifeguard's own connection to the server works", [("account", .string(ServerLink.user + "@localhost")),
                                                                           ("server_version", .string(version))])
        case .unavailable(let reason):
            logger.warn("Lifeguard's own connection to the server does not work: no shedding (the memory stop needs no connection)",
                        [("account", .string(ServerLink.user + "@localhost")), ("reason", .string(reason)),
                         ("hint", "README: Lifeguard's own account")])
        }
    }
}
