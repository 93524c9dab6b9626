import Glibc

/// A signal number with a name, in swift-subprocess's shape.
public struct Signal: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let hangup = Signal(rawValue: SIGHUP)
    public static let interrupt = Signal(rawValue: SIGINT)
    public static let quit = Signal(rawValue: SIGQUIT)
    public static let abort = Signal(rawValue: SIGABRT)
    public static let kill = Signal(rawValue: SIGKILL)
    public static let user1 = Signal(rawValue: SIGUSR1)
    public static let user2 = Signal(rawValue: SIGUSR2)
    public static let pipe = Signal(rawValue: SIGPIPE)
    public static let alarm = Signal(rawValue: SIGALRM)
    public static let terminate = Signal(rawValue: SIGTERM)
    public static let child = Signal(rawValue: SIGCHLD)
    public static let `continue` = Signal(rawValue: SIGCONT)
    public static let stop = Signal(rawValue: SIGSTOP)
    public static let terminalStop = Signal(rawValue: SIGTSTP)
    public static let terminalInput = Signal(rawValue: SIGTTIN)
    public static let terminalOutput = Signal(rawValue: SIGTTOU)
    public static let fileSizeExceeded = Signal(rawValue: SIGXFSZ)
    public static let windowChange = Signal(rawValue: SIGWINCH)

    /// First and last real-time signal as this libc sees them (glibc keeps 32 and 33 for itself).
    public static var realTimeMinimum: Signal { Signal(rawValue: __libc_current_sigrtmin()) }
    public static var realTimeMaximum: Signal { Signal(rawValue: __libc_current_sigrtmax()) }

    /// Signals the kernel raises synchronously for a fault in the process itself: never blocked, never
    /// forwarded (tini and catatonit make the same exception), so a crash in Lifeguard stays a crash.
    public static let synchronousFaults: [Signal] = [
        Signal(rawValue: SIGSEGV), Signal(rawValue: SIGBUS), Signal(rawValue: SIGFPE),
        Signal(rawValue: SIGILL), Signal(rawValue: SIGTRAP), Signal(rawValue: SIGSYS), .abort,
    ]

    /// Every signal Lifeguard receives through its signal channel: all but SIGKILL and SIGSTOP (which
    /// cannot be caught), the synchronous faults, and the numbers between 31 and SIGRTMIN that glibc
    /// keeps for its own threads. Includes SIGCHLD and the real-time signals.
    public static var handled: [Signal] {
        let realTimeMinimum = realTimeMinimum.rawValue
        return (1...realTimeMaximum.rawValue).compactMap { number in
            let signal = Signal(rawValue: number)
            if signal == .kill || signal == .stop || synchronousFaults.contains(signal) { return nil }
            if number > 31 && number < realTimeMinimum { return nil }
            return signal
        }
    }

    public static func < (lhs: Signal, rhs: Signal) -> Bool { lhs.rawValue < rhs.rawValue }

    /// "SIGTERM", "SIGRTMIN+3", or "SIG42" for an unnamed number.
    public var description: String {
        if let name = Signal.names[rawValue] { return "SIG" + name }
        let rtmin = Signal.realTimeMinimum.rawValue
        let rtmax = Signal.realTimeMaximum.rawValue
        if rawValue == rtmin { return "SIGRTMIN" }
        if rawValue == rtmax { return "SIGRTMAX" }
        if rawValue > rtmin && rawValue < rtmax { return "SIGRTMIN+\(rawValue - rtmin)" }
        return "SIG\(rawValue)"
    }

    /// Parses "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2".
    public init?(name: String) {
        var text = String(decoding: name.utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
        if let number = Int32(text), number > 0, number <= Signal.realTimeMaximum.rawValue {
            self.init(rawValue: number)
            return
        }
        if text.hasPrefix("SIG") { text.removeFirst(3) }
        if let match = Signal.names.first(where: { $0.value == text }) {
            self.init(rawValue: match.key)
            return
        }
        let rtmin = Signal.realTimeMinimum.rawValue
        let rtmax = Signal.realTimeMaximum.rawValue
        if text == "RTMIN" { self.init(rawValue: rtmin); return }
        if text == "RTMAX" { self.init(rawValue: rtmax); return }
        if text.hasPrefix("RTMIN+"), let offset = Int32(text.dropFirst(6)), rtmin + offset <= rtmax, offset >= 0 {
            self.init(rawValue: rtmin + offset)
            return
        }
        return nil
    }

    private static let names: [Int32: String] = [
        SIGHUP: "HUP", SIGINT: "INT", SIGQUIT: "QUIT", SIGILL: "ILL", SIGTRAP: "TRAP", SIGABRT: "ABRT",
        SIGBUS: "BUS", SIGFPE: "FPE", SIGKILL: "KILL", SIGUSR1: "USR1", SIGSEGV: "SEGV", SIGUSR2: "USR2",
        SIGPIPE: "PIPE", SIGALRM: "ALRM", SIGTERM: "TERM", SIGSTKFLT: "STKFLT", SIGCHLD: "CHLD",
        SIGCONT: "CONT", SIGSTOP: "STOP", SIGTSTP: "TSTP", SIGTTIN: "TTIN", SIGTTOU: "TTOU", SIGURG: "URG",
        SIGXCPU: "XCPU", SIGXFSZ: "XFSZ", SIGVTALRM: "VTALRM", SIGPROF: "PROF", SIGWINCH: "WINCH",
        SIGIO: "IO", SIGPWR: "PWR", SIGSYS: "SYS",
    ]
}

/// A `sigset_t` as a value with set operations.
public struct SignalSet: Sendable {
    public var raw: sigset_t

    public init() {
        raw = sigset_t()
        sigemptyset(&raw)
    }

    public init<S: Sequence>(_ signals: S) where S.Element == Signal {
        self.init()
        for signal in signals { insert(signal) }
    }

    public mutating func insert(_ signal: Signal) { sigaddset(&raw, signal.rawValue) }

    public func contains(_ signal: Signal) -> Bool {
        var copy = raw
        return sigismember(&copy, signal.rawValue) == 1
    }
}
