import Glibc
import LifeguardSystem

/// What can wake the loop besides its timers. Each source is one case here and one handler in
/// `SupervisorLoop.runOnce`; a new one (a connection to the server) is one more of each.
public struct WakeSources: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The signalfd: signals to forward, SIGCHLD to reap.
    public static let signals = WakeSources(rawValue: 1 << 0)
    /// The notify socket: READY=1, STOPPING=1, STATUS= from the command.
    public static let notify = WakeSources(rawValue: 1 << 1)
    /// The readiness probe's connection: the server's greeting.
    public static let readiness = WakeSources(rawValue: 1 << 2)
    /// The kernel: a v1 eventfd threshold or OOM notification, v2 memory.events.
    public static let memory = WakeSources(rawValue: 1 << 3)
    /// Lifeguard's own connection to the server (`ServerLink`).
    public static let server = WakeSources(rawValue: 1 << 4)
}

/// The descriptors ppoll(2) watches, each tagged with its source. The array is rebuilt only when a
/// source's set of descriptors changes (the memory guard re-arms a threshold); the readiness slot
/// is updated in place, so the steady loop allocates nothing here.
struct PollSet {
    private var descriptors: [pollfd] = []
    private var sources: [WakeSources] = []

    /// Replaces every descriptor of `source` with `entries` (descriptor, events).
    mutating func replace(_ source: WakeSources, with entries: [(FileDescriptor, Int16)]) {
        var index = 0
        while index < sources.count {
            if sources[index] == source {
                sources.remove(at: index)
                descriptors.remove(at: index)
            } else {
                index += 1
            }
        }
        for (descriptor, events) in entries {
            sources.append(source)
            descriptors.append(pollfd(fd: descriptor.rawValue, events: events, revents: 0))
        }
    }

    /// Points the single slot of `source` at `descriptor`, or disables it (fd -1: ppoll skips it).
    /// The slot must exist (`replace` made it).
    mutating func point(_ source: WakeSources, at descriptor: FileDescriptor?, events: Int16? = nil) {
        var index = 0
        while index < sources.count {
            if sources[index] == source {
                descriptors[index].fd = descriptor?.rawValue ?? -1
                if let events { descriptors[index].events = events }
                return
            }
            index += 1
        }
    }

    /// One ppoll(2) until `deadline`: the sources that have events. EINTR comes back as none.
    mutating func wait(until deadline: MonotonicInstant, now: MonotonicInstant) throws(Errno) -> WakeSources {
        let ready = try descriptors.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(Errno) in try Poll.wait(buffer, timeout: deadline - now) }
        }.get()
        var woken: WakeSources = []
        guard ready > 0 else { return woken }
        var index = 0
        while index < descriptors.count {
            if descriptors[index].revents != 0 { woken.insert(sources[index]) }
            index += 1
        }
        return woken
    }
}
