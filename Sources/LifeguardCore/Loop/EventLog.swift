/// How each supervisor event reads in the log: level, message and typed fields.
extension SupervisorEvent {
    public var logLevel: LogLevel {
        switch self {
        case .signalForwarded, .orphansReaped: return .debug
        case .spawnFailed, .gracePeriodExpired, .remainingAbandoned: return .error
        case .remainingKilled: return .warn
        case .childExited(_, let status): return status.isSuccess ? .info : .warn
        default: return .info
        }
    }

    public var logMessage: String {
        switch self {
        case .childStarted: return "child started"
        case .spawnFailed(let error): return error.description
        case .signalForwarded: return "signal forwarded"
        case .stopBegan: return "graceful stop: SIGTERM sent"
        case .gracePeriodExpired: return "grace period over: SIGKILL sent"
        case .childExited: return "child exited"
        case .orphansReaped: return "orphans reaped"
        case .remainingSignalled: return "main child gone, other processes remain: SIGTERM sent to them"
        case .remainingKilled: return "grace period over: SIGKILL sent to the remaining processes"
        case .remainingAbandoned: return "remaining processes did not exit after SIGKILL: exiting anyway"
        case .exiting: return "exiting"
        }
    }

    public var logFields: LogFields {
        switch self {
        case .childStarted(let pid): return [("pid", LogValue(pid))]
        case .spawnFailed(let error): return [("exit_code", LogValue(error.exitCode))]
        case .signalForwarded(let signal, let target): return [("signal", .string(signal.description))] + target.logFields
        case .stopBegan(let reason, let pid, let grace):
            return [("pid", LogValue(pid)), ("reason", .string(reason.logValue)), ("grace_period_s", .double(grace.seconds))]
        case .gracePeriodExpired(let pid, let grace): return [("pid", LogValue(pid)), ("grace_period_s", .double(grace.seconds))]
        case .childExited(let pid, let status):
            return [("pid", LogValue(pid)), ("status", .string(status.description)), ("exit_code", LogValue(status.shellExitCode))]
        case .orphansReaped(let count): return [("count", LogValue(count))]
        case .remainingSignalled(_, let grace): return [("grace_period_s", .double(grace.seconds))]
        case .remainingKilled, .remainingAbandoned: return []
        case .exiting(let code): return [("exit_code", LogValue(code))]
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
        }
    }
}
