import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// What Lifeguard tells probes and people: the notify socket, the readiness prober, the status file,
/// and the facts they need that the state machine does not keep.
public final class Health {
    public let notify: NotifyListener?
    public let prober: ReadinessProber?
    /// Lifeguard's own connection to the server (a unix-socket ready address only).
    public let link: ServerLink?
    /// Whether the ready server still answers that connection (readiness that stays true).
    public var check = ResponseCheck()
    /// Whether a replica is current (readiness includes it); nil: not checked.
    public var replica: ReplicaCheck?
    public let reporter: StatusReporter
    /// Where the status and log writes happen (nil: in the loop itself).
    public let output: OutputThread?
    /// The fields that do not change: pid, command name, start time, boot, interval.
    public var base: Status
    var serverStatus: String?
    var serverVersion: String?
    var readySince: WallClockTime?
    var lastEvent: Status.Event?
    /// The datadir's last resurrect (its report beside the status file).
    var resurrect: ResurrectWatch

    public init(notify: NotifyListener? = nil, prober: ReadinessProber? = nil, link: ServerLink? = nil,
                reporter: StatusReporter = .none(), output: OutputThread? = nil,
                base: Status = Status(), statusFile: String? = nil) {
        resurrect = ResurrectWatch(statusFile: statusFile)
        self.notify = notify
        self.prober = prober
        self.link = link
        self.reporter = reporter
        self.output = output
        self.base = base
    }

    /// A new main child: what the last one said is forgotten, and the prober watches this one.
    func childStarted(pid: pid_t, now: MonotonicInstant) {
        serverStatus = nil
        serverVersion = nil
        readySince = nil
        prober?.begin(pid: pid, now: now)
    }

    func record(reason: String, detail: String) {
        lastEvent = Status.Event(reason: reason, at: .now(), detail: detail)
    }
}
