import Glibc
import LifeguardImage
import LifeguardStatus
import LifeguardSupervisor

/// The `lifeguard` command: which job it was asked for, then that job. Supervising is the main one
/// (LifeguardSupervisor); the probe and the fleet view read status files (LifeguardStatus); run-as and
/// render-config serve the image's entrypoint, resurrect runs the image's resurrect (LifeguardImage).
@main
enum Lifeguard {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // The probe runs every few seconds in every container: dispatched before the environment is
        // read into a dictionary, which it does not need.
        if arguments.first == "probe" { probe(Array(arguments.dropFirst())) }
        let environment = ProcessEnvironment.current()
        let invocation: Invocation
        do {
            invocation = try CommandLineParser.parse(arguments: arguments, environment: environment.variables)
        } catch {
            Supervision.fail(error.message)
        }
        switch invocation {
        case .probe(let arguments):
            probe(arguments)
        case .status(let arguments):
            exit(StatusCommand.run(arguments: arguments, environment: environment.variables))
        case .runAs(let arguments):
            exit(RunAsCommand.run(arguments: arguments))
        case .renderConfig(let arguments):
            exit(RenderConfigCommand.run(arguments: arguments, environment: environment.variables))
        case .resurrect(let arguments):
            exit(ResurrectCommand.run(arguments: arguments))
        case .help:
            print(HelpText.render(), terminator: "")
            exit(0)
        case .version:
            print("lifeguard \(LifeguardVersion.string)")
            exit(0)
        case .supervise(let configuration):
            Supervision.run(configuration, environment: environment)
        }
    }

    /// `lifeguard probe`: it reads LIFEGUARD_STATUS_FILE alone.
    static func probe(_ arguments: [String]) -> Never {
        let statusFile = getenv("LIFEGUARD_STATUS_FILE").map { String(cString: $0) }
        exit(ProbeCommand.run(arguments: arguments, statusFile: statusFile))
    }
}
