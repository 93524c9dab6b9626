import CLifeguard  // signalfd_siginfo, the record a signalfd read returns
import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The signal state Lifeguard found at start, and the one it runs with.
///
/// Lifeguard installs no signal handlers (no work in asynchronous handlers, as in tini): it blocks every
/// signal it handles and reads them from a signalfd in its one loop. The command it starts must not
/// inherit that: it gets back the mask Lifeguard started with, and the signals Lifeguard chose to ignore
/// go back to their default action, so the child starts with the state its own parent gave Lifeguard.
public struct SignalState: Sendable {
    /// Signals Lifeguard ignores itself. TTIN/TTOU: a background PID 1 touching the terminal must not
    /// stop. PIPE/XFSZ: a broken log pipe or a full status file must give an error, not kill PID 1.
    /// Ignored signals are left unblocked, so the kernel discards them instead of queueing them.
    public static let ignored: [Signal] = [.terminalInput, .terminalOutput, .pipe, .fileSizeExceeded]

    /// The mask Lifeguard started with: the child gets it back.
    public let originalMask: SignalSet
    /// Signals that had their default action at start and that Lifeguard ignores: reset in the child.
    public let resetInChild: SignalSet
    /// What Lifeguard blocks and reads from its signalfd.
    public let blocked: SignalSet

    /// Saves the current state, then blocks every handled signal and ignores `ignored`.
    /// Call first thing in `main`, before any other thread or child could exist.
    public static func takeOver() throws(Errno) -> SignalState {
        let original = try SignalSet.currentMask()
        var reset = SignalSet()
        for signal in ignored where try signal.ignore() { reset.insert(signal) }
        let blocked = SignalSet(Signal.handled.filter { !ignored.contains($0) })
        try blocked.installAsMask()
        return SignalState(originalMask: original, resetInChild: reset, blocked: blocked)
    }
}

/// A signalfd over the blocked signals: the one way signals enter Lifeguard.
public struct SignalChannel: ~Copyable {
    public let descriptor: FileDescriptor
    private let buffer: UnsafeMutableBufferPointer<signalfd_siginfo>

    public init(for state: SignalState) throws(Errno) {
        try self.init(watching: state.blocked)
    }

    /// A channel for `signals`, which only delivers them while they are blocked.
    public init(watching signals: SignalSet) throws(Errno) {
        descriptor = try FileDescriptor.signals(signals)
        buffer = .allocate(capacity: 32)
    }

    deinit {
        buffer.deallocate()
        descriptor.close()
    }

    /// Reads every pending signal and calls `body` with each (signal, sending pid) in arrival order.
    /// Several SIGCHLDs may have coalesced into one: the reaper, not this count, finds every exit.
    public func drain(_ body: (Signal, pid_t) -> Void) {
        while true {
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            let count: Int
            do { count = try descriptor.read(into: bytes) } catch { return }  // EAGAIN: nothing left
            let records = count / MemoryLayout<signalfd_siginfo>.stride
            if records == 0 { return }
            for index in 0..<records {
                body(Signal(rawValue: Int32(buffer[index].ssi_signo)), pid_t(buffer[index].ssi_pid))
            }
        }
    }
}
