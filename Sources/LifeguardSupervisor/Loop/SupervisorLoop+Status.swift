import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

extension SupervisorLoop {
    /// The status as of now, from the state machine, the memory guard and the health facts.
    func currentStatus(now: MonotonicInstant, exitCode: Int32? = nil) -> Status {
        var status = health.base
        status.state = exitCode == nil ? machine.serviceState : .exited
        // A replica is shown ready only once its replication is known (ReplicaCheck).
        if status.state == .ready, health.replica?.awaitingFirstAnswer(now: now) == true { status.state = .starting }
        status.exitCode = exitCode
        status.childPID = machine.childPID
        // `command` is the command's name here; what runs now is read when the status is written.
        status.restarts = machine.restarts
        status.memoryStops = machine.memoryStops
        status.shedKills = shedding?.kills ?? 0
        status.readiness = machine.readiness?.rawValue
        status.readySince = machine.readiness == nil ? nil : health.readySince
        status.serverVersion = health.serverVersion
        status.serverStatus = health.serverStatus
        status.lastEvent = health.lastEvent
        health.resurrect.refresh()
        status.resurrect = health.resurrect.current
        status.replication = machine.readiness == nil ? nil : health.replica?.summary
        status.updatedAt = .now()
        status.updatedMonotonic = now
        if let memory {
            let location = memory.cgroup.location
            let reading = memory.cgroup.read(exact: true) ?? memory.lastReading
            status.memory.cgroupVersion = location.version.rawValue
            status.memory.cgroup = location.directory
            status.memory.guardState = memory.policy == nil ? "off" : "on"
            status.memory.guardReason = memory.policy != nil ? nil
                : memory.triggerSetting == .off ? "LIFEGUARD_MEMORY_LIMIT=off" : "no hard memory limit and no LIFEGUARD_MEMORY_LIMIT"
            status.memory.usage = reading?.usage
            status.memory.unreclaimable = reading?.unreclaimable
            status.memory.workingSet = reading?.workingSet
            status.memory.fileCache = reading?.stat?.fileCache
            status.memory.dirty = reading?.stat?.pendingWrites
            status.memory.limit = memory.limits.hard
            status.memory.softLimit = memory.limits.soft
            status.memory.high = memory.limits.high
            status.memory.trigger = memory.trigger
            status.memory.shedLevel = shedding == nil ? nil : memory.shedLevel
            status.memory.kernelOOMKills = memory.kernelOOMKills
        } else {
            status.memory.guardReason = "no cgroup memory controller"
        }
        return status
    }

    func writeStatus(now: MonotonicInstant, exitCode: Int32? = nil) {
        statusDirty = false
        health.reporter.write(currentStatus(now: now, exitCode: exitCode), now: now)
    }
}

extension SupervisorEvent {
    /// The status file's `last_event` for this event (reason, detail); nil for routine ones.
    var statusEvent: (String, String)? {
        switch self {
        case .childStarted(let pid, let restarts): return ("started", "pid \(pid)" + (restarts > 0 ? ", restart \(restarts)" : ""))
        case .spawnFailed(let error): return ("spawn_failed", error.description)
        case .stopBegan(.signal(let signal), _, _): return ("stop_signal", "\(signal) received: graceful stop")
        case .stopBegan(.memory(let report), _, _):
            return ("memory_limit", "unreclaimable \(report.reading.unreclaimable) bytes (working set \(report.reading.workingSet)), "
                + "trigger \(report.trigger)" + (report.hardLimit.map { ", limit \($0)" } ?? "") + ": graceful stop")
        case .gracePeriodExpired(let pid, _): return ("killed", "pid \(pid) did not stop within the grace period: SIGKILL")
        case .childExited(let pid, let status): return ("child_exited", "pid \(pid) \(status)")
        case .ready(let source): return ("ready", "by \(source.rawValue)")
        case .serverStopping: return ("server_stopping", "the command is shutting down by itself")
        case .unresponsive(let failures): return ("unresponsive", "no answer on Lifeguard's own connection \(failures) times in a row: not ready")
        case .answeringAgain: return ("answering", "the server answers Lifeguard's own connection again: ready")
        case .replicaBehind(let reason): return ("replica_behind", reason + ": not ready")
        case .replicaCurrent: return ("replica_current", "the replica is current again: ready")
        case .restartRequested(let code): return ("restart_requested", "exit code \(code)")
        case .crashed(let signal): return ("crashed", "killed by \(signal), which Lifeguard did not send")
        case .restartScheduled(let delay, let restarts): return ("restart", "restart \(restarts) in \(delay.seconds) s")
        case .restartLimitReached(let restarts, let window): return ("restart_limit", "\(restarts) restarts in \(window.seconds) s")
        case .resurrectBegan: return ("resurrecting", "the server kept dying during its start, never ready: resurrect runs on its datadir")
        case .resurrectEnded(let status, let resurrected):
            return (resurrected ? "resurrected" : "resurrect_failed", "resurrect \(status)" + (resurrected ? ": starting the server again" : ""))
        case .exiting(let code): return ("exited", "exit code \(code)")
        case .signalForwarded, .orphansReaped, .remainingSignalled, .remainingKilled, .remainingAbandoned: return nil
        }
    }
}

extension MemoryGuardEvent {
    var statusEvent: (String, String)? {
        switch self {
        case .kernelOOMKill(let count, let previous, let reading):
            return ("kernel_oom_kill", "\(count - previous) process(es) killed by the kernel OOM killer (total \(count))"
                + (reading.map { ", unreclaimable \($0.unreclaimable) bytes (working set \($0.workingSet))" } ?? ""))
        case .disarmed: return ("memory_guard_off", logMessage)
        case .triggerNotBelowLimit: return ("memory_guard_misconfigured", logMessage)
        default: return nil
        }
    }
}
