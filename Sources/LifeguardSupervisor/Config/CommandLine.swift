import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// What `lifeguard` was asked to do.
public enum Invocation: Sendable, Equatable {
    /// Supervise COMMAND (the main job).
    case supervise(Configuration)
    case help
    case version
    /// `lifeguard probe ...`: read the status file, exit 0 or 1.
    case probe([String])
    /// `lifeguard status ...`: show one status file or a fleet of them.
    case status([String])
    /// `lifeguard run-as USER COMMAND...`: drop root and exec (the image's entrypoint).
    case runAs([String])
    /// `lifeguard render-config ...`: render my.cnf.template for the memory offer.
    case renderConfig([String])
    /// `lifeguard resurrect ...`: exec the image's resurrect script.
    case resurrect([String])
}

/// Parses `lifeguard [OPTIONS] [--] COMMAND [ARG...]`. Options stop at the first argument that is not
/// one, so everything after COMMAND belongs to COMMAND (`lifeguard mysqld --user=mysql` works).
public enum CommandLineParser {
    /// Words that, as the first argument, name a subcommand rather than COMMAND (`lifeguard -- probe`
    /// runs a program called probe).
    public static let subcommands = ["probe", "status", "run-as", "render-config", "resurrect"]

    public static func parse(arguments: [String], environment: [String: String]) throws(ConfigurationError) -> Invocation {
        switch arguments.first {
        case "probe": return .probe(Array(arguments.dropFirst()))
        case "status": return .status(Array(arguments.dropFirst()))
        case "run-as": return .runAs(Array(arguments.dropFirst()))
        case "render-config": return .renderConfig(Array(arguments.dropFirst()))
        case "resurrect": return .resurrect(Array(arguments.dropFirst()))
        default: break
        }
        var configuration = Configuration()
        try configuration.apply(environment: environment)

        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                index += 1
                break
            }
            guard argument.hasPrefix("-"), argument != "-" else { break }
            switch argument {
            case "-h", "--help": return .help
            case "-V", "--version": return .version
            case "-g":
                configuration.signalProcessGroup = true
                index += 1
                continue
            default: break
            }
            let (flag, inlineValue) = splitFlag(argument)
            guard let setting = Configuration.settings.first(where: { $0.flag == flag }) else {
                throw ConfigurationError("unknown option \(argument) (see lifeguard --help)")
            }
            var value: String
            if setting.isSwitch {
                value = inlineValue ?? "true"
            } else if let inlineValue {
                value = inlineValue
            } else {
                guard index + 1 < arguments.count else {
                    throw ConfigurationError("\(flag) needs a value: \(setting.accepted)")
                }
                index += 1
                value = arguments[index]
            }
            guard setting.apply(&configuration, value) else {
                throw .invalid(flag, value: value, accepted: setting.accepted)
            }
            index += 1
        }
        configuration.command = Array(arguments[index...])
        guard !configuration.command.isEmpty else {
            throw ConfigurationError("no command given: usage: lifeguard [OPTIONS] [--] COMMAND [ARG...] (see lifeguard --help)")
        }
        return .supervise(configuration)
    }

    static func splitFlag(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
