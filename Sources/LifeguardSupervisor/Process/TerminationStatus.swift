import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// How a process ended, in swift-subprocess's shape.
public enum TerminationStatus: Hashable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Signal, coreDumped: Bool)

    /// Decodes a `waitpid` status word (the WIFEXITED/WEXITSTATUS/WTERMSIG macros, which Swift
    /// cannot import). Returns nil for stop/continue reports, which Lifeguard never asks for.
    public init?(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if low != 0x7f && status & 0xffff != 0xffff {
            self = .signaled(Signal(rawValue: low), coreDumped: status & 0x80 != 0)
        } else {
            return nil
        }
    }

    /// The exit code a shell (and tini, and Docker) reports: the code itself, or 128+N for signal N.
    public var shellExitCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal, _): return (128 + signal.rawValue) % 256
        }
    }

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with code \(code)"
        case .signaled(let signal, let core): return "killed by \(signal)" + (core ? " (core dumped)" : "")
        }
    }
}
