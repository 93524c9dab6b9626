import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// `lifeguard --help`, built from the settings table so it can never disagree with the parser.
public enum HelpText {
    public static func render() -> String {
        var text = """
        lifeguard \(LifeguardVersion.string): PID 1 for a MySQL container. Starts COMMAND, forwards signals,
        reaps zombies, and stops COMMAND gracefully (SIGTERM, grace period, SIGKILL).

        Usage:
          lifeguard [OPTIONS] [--] COMMAND [ARG...]
          lifeguard probe [--live | --ready] [--max-age SECONDS] [--status-file PATH]
          lifeguard status [--json] [FILE | DIRECTORY...]
          lifeguard run-as USER[:GROUP] COMMAND [ARG...]
          lifeguard render-config [--template FILE] [--output FILE] [--defaults FILE] [--offer SIZE] [-- SERVER ARGS]
          lifeguard resurrect [--force] [--max-force-recovery N] [-- SERVER ARGS]

        Options (each also set by its environment variable; a flag wins):

        """
        for setting in Configuration.settings {
            let flag = setting.flag.map { $0 + (setting.isSwitch ? "" : " VALUE") } ?? ""
            text += "  \(flag)\n      \(setting.variable) (default \(setting.defaultValue))\n"
            text += "      \(setting.summary)\n      Accepts \(setting.accepted).\n"
        }
        text += """
          -g  same as --process-group
          -h, --help     this text
          -V, --version  the version

        Exit status: COMMAND's own; 128+N when it died of signal N; 126 when it cannot be executed;
        127 when it is not found; 2 for a configuration error (nothing is started).

        """
        return text
    }
}
