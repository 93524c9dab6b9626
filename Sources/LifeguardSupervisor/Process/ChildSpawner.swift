import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Why a command could not be started, with the exit code a shell would give.
public enum SpawnError: Error, Equatable, Sendable, CustomStringConvertible {
    /// fork(2) or pipe(2) failed: no child exists.
    case forkFailed(Errno)
    /// The child could not exec the command.
    case execFailed(command: String, Errno)

    /// 127 when the command is not found, 126 when it is found but cannot be executed (bash and tini).
    public var exitCode: Int32 {
        switch self {
        case .forkFailed: return 1
        case .execFailed(_, let error):
            return error.rawValue == ENOENT || error.rawValue == ENOTDIR ? 127 : 126
        }
    }

    public var description: String {
        switch self {
        case .forkFailed(let error): return "cannot start a child process: \(error)"
        case .execFailed(let command, let error):
            let hint = exitCode == 127 ? "command not found" : "command cannot be executed"
            return "\(hint): \(command): \(error)"
        }
    }
}

/// Starts the supervised command: own process group, the terminal if there is one, and the signal
/// state Lifeguard started with.
public struct ChildSpawner: Sendable {
    public var arguments: [String]
    public var environment: [String]
    public var signalState: SignalState

    public init(arguments: [String], environment: [String], signalState: SignalState) {
        precondition(!arguments.isEmpty, "a command is required")
        self.arguments = arguments
        self.environment = environment
        self.signalState = signalState
    }

    /// Forks and execs the command; returns the child's pid once exec has succeeded.
    public func spawn() -> Result<pid_t, SpawnError> {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        switch Processes.spawn(arguments[0], argv: argv, envp: envp, childMask: signalState.originalMask,
                               reset: signalState.resetInChild) {
        case .started(let pid): return .success(pid)
        case .execFailed(let error): return .failure(.execFailed(command: arguments[0], error))
        case .forkFailed(let error): return .failure(.forkFailed(error))
        }
    }
}
