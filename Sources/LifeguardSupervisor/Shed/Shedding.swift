/// The shed as the loop runs it: the pure `Shedder`, the minimum a connection must hold to be
/// killed, and which question is in flight on Lifeguard's connection (one at a time).
public final class Shedding {
    enum Question { case runaway, kill }

    /// The least memory a connection must hold to be killed, relative to the trigger.
    public let minimum: ShedSetting
    var shedder: Shedder
    var question: Question?

    public init(minimum: ShedSetting, settings: Shedder.Settings = Shedder.Settings()) {
        self.minimum = minimum
        shedder = Shedder(settings: settings)
    }

    public var kills: Int { shedder.totalKills }

    /// A stop begins or the server is gone.
    func abandon() {
        shedder.abandon()
        question = nil
    }
}
