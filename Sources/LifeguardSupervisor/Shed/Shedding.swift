/// The shed as the loop runs it: the pure `Shedder`, and which question is in flight on Lifeguard's
/// connection (one at a time). Its level and minimum are the memory guard's (`MemoryGuard.shedLevel`).
public final class Shedding {
    enum Question { case runaway, kill }

    var shedder: Shedder
    var question: Question?

    public init(settings: Shedder.Settings = Shedder.Settings()) {
        shedder = Shedder(settings: settings)
    }

    public var kills: Int { shedder.totalKills }

    /// A stop begins or the server is gone.
    func abandon() {
        shedder.abandon()
        question = nil
    }
}
