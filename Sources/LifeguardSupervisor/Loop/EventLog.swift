import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// How each supervisor event reads in the log: level, message and typed fields.
extension SupervisorEvent {
    public var logLevel: LogLevel {
        switch self {
        case .signalForwarded, .orphansReaped: return .debug
        case .spawnFailed, .gracePeriodExpired, .remainingAbandoned, .restartLimitReached, .crashed: return .error
        case .resurrectBegan: return .warn
        case .resurrectEnded(_, let resurrected): return resurrected ? .warn : .error
        case .remainingKilled, .unresponsive, .replicaBehind: return .warn
        case .stopBegan(.memory, _, _): return .warn
        case .childExited(_, let status): return status.isSuccess ? .info : .warn
        default: return .info
        }
    }

    public var logMessage: String {
        switch self {
        case .childStarted: return "child started"
        case .spawnFailed(let error): return error.description
        case .signalForwarded: return "signal forwarded"
        case .stopBegan(.memory, _, _): return "memory limit reached: graceful stop, SIGTERM sent"
        case .stopBegan: return "graceful stop: SIGTERM sent"
        case .gracePeriodExpired: return "grace period over: SIGKILL sent"
        case .childExited: return "child exited"
        case .orphansReaped: return "orphans reaped"
        case .remainingSignalled: return "main child gone, other processes remain: SIGTERM sent to them"
        case .remainingKilled: return "grace period over: SIGKILL sent to the remaining processes"
        case .remainingAbandoned: return "remaining processes did not exit after SIGKILL: going on anyway"
        case .ready(.notify): return "ready: the command said READY=1"
        case .ready(.handshake): return "ready: the server sent its handshake greeting"
        case .serverStopping: return "the command is shutting down by itself (STOPPING=1)"
        case .unresponsive: return "not ready: the server does not answer Lifeguard's own connection"
        case .answeringAgain: return "ready again: the server answers Lifeguard's own connection"
        case .replicaBehind: return "not ready: the replica is not current"
        case .replicaCurrent: return "ready again: the replica is current"
        case .restartRequested(let code): return "the command asked to be restarted (exit code \(code))"
        case .crashed: return "the command crashed (killed by a signal Lifeguard did not send)"
        case .restartScheduled: return "restarting the command"
        case .restartLimitReached: return "too many restarts: exiting so the orchestrator takes over"
        case .resurrectBegan:
            return "the server kept dying during its start and was never ready: running resurrect on its datadir (LIFEGUARD_ON_CORRUPTION=resurrect)"
        case .resurrectEnded(_, true): return "resurrect replaced the datadir: starting the server again"
        case .resurrectEnded(_, false): return "resurrect did not replace the datadir: exiting so the orchestrator takes over"
        case .exiting: return "exiting"
        }
    }

    public var logFields: LogFields {
        switch self {
        case .childStarted(let pid, let restarts): return [("pid", LogValue(pid)), ("restarts", LogValue(restarts))]
        case .spawnFailed(let error): return [("exit_code", LogValue(error.exitCode))]
        case .signalForwarded(let signal, let target): return [("signal", .string(signal.description))] + target.logFields
        case .stopBegan(let reason, let pid, let grace):
            return [("pid", LogValue(pid)), ("reason", .string(reason.logValue)), ("grace_period_s", .double(grace.seconds))]
                + reason.logFields
        case .gracePeriodExpired(let pid, let grace): return [("pid", LogValue(pid)), ("grace_period_s", .double(grace.seconds))]
        case .childExited(let pid, let status):
            return [("pid", LogValue(pid)), ("status", .string(status.description)), ("exit_code", LogValue(status.shellExitCode))]
        case .orphansReaped(let count): return [("count", LogValue(count))]
        case .remainingSignalled(_, let grace): return [("grace_period_s", .double(grace.seconds))]
        case .restartRequested(let code): return [("exit_code", LogValue(code))]
        case .remainingKilled, .remainingAbandoned, .ready, .serverStopping, .answeringAgain, .replicaCurrent: return []
        case .replicaBehind(let reason): return [("reason", .string(reason))]
        case .unresponsive(let failures): return [("failures_in_a_row", LogValue(failures))]
        case .crashed(let signal): return [("signal", .string(signal.description))]
        case .restartScheduled(let delay, let restarts): return [("delay_s", .double(delay.seconds)), ("restart", LogValue(restarts))]
        case .restartLimitReached(let restarts, let window):
            return [("restarts_in_window", LogValue(restarts)), ("window_s", .double(window.seconds))]
        case .exiting(let code): return [("exit_code", LogValue(code))]
        case .resurrectBegan: return [("command", .string(Supervisor.resurrectCommand))]
        case .resurrectEnded(let status, _): return [("status", .string(status.description)), ("exit_code", LogValue(status.shellExitCode))]
        }
    }
}

extension SignalTarget {
    var logFields: LogFields {
        switch self {
        case .process(let pid): return [("pid", LogValue(pid))]
        case .processGroup(let pid): return [("pgid", LogValue(pid))]
        case .remaining: return [("target", "remaining")]
        }
    }
}

extension StopReason {
    var logValue: String {
        switch self {
        case .signal(let signal): return signal.description
        case .memory: return "memory"
        }
    }

    var logFields: LogFields {
        guard case .memory(let report) = self else { return [] }
        return report.logFields
    }
}

extension MemoryTriggerReport {
    var logFields: LogFields {
        var fields: LogFields = reading.logFields + [
            ("trigger_bytes", LogValue(trigger)), ("limit_bytes", hardLimit.map(LogValue.init) ?? .null),
            ("growth_bytes_per_s", LogValue(UInt64(max(0, growthRate)))),
            ("sample_delay_ms", .double((sampleDelay.seconds * 10_000).rounded() / 10)),
        ]
        if case .predicted(let seconds) = reason { fields.append(("predicted_limit_in_ms", .double(seconds * 1000))) }
        return fields
    }
}

extension MemoryReading {
    /// The figure the guard decides on first, then the kubelet's working set and the parts between.
    var logFields: LogFields {
        [("unreclaimable_bytes", LogValue(unreclaimable)), ("working_set_bytes", LogValue(workingSet)),
         ("usage_bytes", LogValue(usage)), ("file_cache_bytes", stat.map { LogValue($0.fileCache) } ?? .null),
         ("inactive_file_bytes", stat.map { LogValue($0.inactiveFile) } ?? .null),
         ("dirty_bytes", stat.map { LogValue($0.pendingWrites) } ?? .null)]
    }
}

extension MemoryStat.MissingFields {
    /// What each missing field means for the figure, for the log.
    var description: String {
        var parts: [String] = []
        if contains(.activeFile) { parts.append("no active_file: the active page cache counts as unreclaimable") }
        if contains(.pendingWrites) { parts.append("no file_dirty/file_writeback: the whole page cache counts as unreclaimable") }
        return parts.joined(separator: "; ")
    }
}

extension MemoryGuardEvent {
    public var logLevel: LogLevel {
        switch self {
        case .kernelNotification: return .debug
        case .armed, .readingRecovered: return .info
        case .disarmed, .statFieldsMissing: return .warn
        case .triggerNotBelowLimit, .kernelOOMKill, .readingFailed: return .error
        }
    }

    public var logMessage: String {
        switch self {
        case .armed: return "memory guard on"
        case .disarmed(_, .off): return "memory guard off: LIFEGUARD_MEMORY_LIMIT=off (readings and kernel OOM kills still watched)"
        case .disarmed(let limits, _):
            return limits.hard == nil ? "memory guard off: no hard memory limit and no LIFEGUARD_MEMORY_LIMIT"
                : "memory guard off"
        case .kernelNotification: return "kernel memory notification"
        case .triggerNotBelowLimit:
            return "LIFEGUARD_MEMORY_LIMIT is not below the hard limit: the kernel OOM killer will act first"
        case .kernelOOMKill: return "the kernel OOM killer killed a process in this container"
        case .readingFailed: return "cannot read the cgroup memory files; still supervising, retrying"
        case .readingRecovered: return "cgroup memory files readable again"
        case .statFieldsMissing: return "memory.stat lacks fields the guard uses: what they stand for counts as unreclaimable (it may stop earlier, never later)"
        }
    }

    public var logFields: LogFields {
        switch self {
        case .armed(let trigger, let limits, let dirtyFloor):
            return [("trigger_bytes", LogValue(trigger))] + limits.logFields
                + (dirtyFloor.map { [("dirty_cache_stop_bytes", LogValue($0))] } ?? [])
        case .disarmed(let limits, _): return limits.logFields
        case .triggerNotBelowLimit(let trigger, let hard):
            return [("trigger_bytes", LogValue(trigger)), ("limit_bytes", LogValue(hard))]
        case .kernelOOMKill(let count, let previous, let reading):
            return [("oom_kills", LogValue(count)), ("new_oom_kills", LogValue(count - previous))]
                + (reading?.logFields ?? [])
        case .statFieldsMissing(let missing): return [("missing", .string(missing.description))]
        case .readingFailed, .readingRecovered, .kernelNotification: return []
        }
    }
}

extension MemoryLimits {
    var logFields: LogFields {
        [("limit_bytes", hard.map(LogValue.init) ?? .null), ("soft_limit_bytes", soft.map(LogValue.init) ?? .null),
         ("high_bytes", high.map(LogValue.init) ?? .null)]
    }
}
