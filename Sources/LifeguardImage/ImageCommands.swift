import Glibc
import LifeguardCgroup
import LifeguardSupervisor
import LifeguardSystem

/// `lifeguard run-as USER[:GROUP] COMMAND [ARG...]`: drops root for USER and execs COMMAND in place
/// (like gosu, which the official mysql image has and other bases do not). The entrypoint uses it to
/// re-exec itself as mysql: the same process, so Lifeguard's main child stays the server.
public enum RunAsCommand {
    public static func run(arguments: [String]) -> Int32 {
        guard arguments.count >= 2 else { return failure("usage: lifeguard run-as USER[:GROUP] COMMAND [ARG...]") }
        guard let (uid, gid, groups, home) = UserDatabase.system().resolve(arguments[0]) else {
            return failure("run-as: no such user or group: \(arguments[0])")
        }
        do {
            // Only root may set supplementary groups; another user can still become itself.
            try Identity.become(userID: uid, groupID: gid, groups: Processes.isRoot ? groups : nil)
            try Identity.setEnvironment("HOME", home)
        } catch {
            return failure("run-as: cannot become \(arguments[0]): \(error)")
        }
        let command = Array(arguments.dropFirst())
        let error = Identity.execute(command)
        return failure("run-as: cannot execute \(command[0]): \(error)", code: error.rawValue == ENOENT ? 127 : 126)
    }

    static func failure(_ message: String, code: Int32 = 1) -> Int32 {
        try? FileDescriptor.standardError.writeAll("lifeguard \(message)\n")
        return code
    }
}

/// `lifeguard resurrect [--force] [--max-force-recovery N] [-- SERVER...]`: the image's resurrect script
/// (resurrect/resurrect, linked as /usr/local/bin/resurrect), exec'd in place: a damaged datadir back as
/// a clean instance, the original kept. The same command LIFEGUARD_ON_CORRUPTION=resurrect runs.
public enum ResurrectCommand {
    public static func run(arguments: [String]) -> Int32 {
        let command = [Supervisor.resurrectCommand] + arguments
        let error = Identity.execute(command)
        return RunAsCommand.failure("resurrect: cannot execute \(command[0]): \(error) (the image links it as /usr/local/bin/resurrect)",
                                    code: error.rawValue == ENOENT ? 127 : 126)
    }
}


/// `lifeguard render-config [--template FILE] [--output FILE] [--defaults FILE] [--offer SIZE] [--flavor mysql|mariadb] [-- SERVER ARGS]`:
/// renders my.cnf.template for the memory offer (the memory guard's trigger, or --offer /
/// LIFEGUARD_OFFER), leaving out every key set in `--defaults` (my_print_defaults output) or in the
/// server arguments, and, with --flavor, the keys only the other server knows. Prints a one-line
/// summary on stderr.
public enum RenderConfigCommand {
    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        var template = "/etc/lifeguard/my.cnf.template"
        var output: String?
        var defaults: String?
        var offerText = environment["LIFEGUARD_OFFER"]
        var serverArguments: [String] = []
        var flavor: ServerFlavor?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                serverArguments = Array(arguments[(index + 1)...])
                break
            }
            guard index + 1 < arguments.count else { return RunAsCommand.failure("render-config: \(argument) needs a value") }
            switch argument {
            case "--template": template = arguments[index + 1]
            case "--output": output = arguments[index + 1]
            case "--defaults": defaults = arguments[index + 1]
            case "--offer": offerText = arguments[index + 1]
            case "--flavor":
                guard let value = ServerFlavor(rawValue: arguments[index + 1]) else {
                    return RunAsCommand.failure("render-config: --flavor \(arguments[index + 1]) is invalid: expected mysql or mariadb")
                }
                flavor = value
            default: return RunAsCommand.failure("render-config: unknown option \(argument)")
            }
            index += 2
        }
        let offer: UInt64?
        if let offerText {
            guard let bytes = ValueParsers.size(offerText), bytes > 0 else {
                return RunAsCommand.failure("render-config: LIFEGUARD_OFFER = \"\(offerText)\" is invalid: expected \(ValueParsers.sizeAccepted)")
            }
            offer = bytes
        } else {
            offer = memoryOffer(environment: environment)
        }
        guard let templateText = try? FileDescriptor.readText(template) else {
            return RunAsCommand.failure("render-config: cannot read the template \(template)")
        }
        let printed = defaults.flatMap { try? FileDescriptor.readText($0) } ?? ""
        let text: String
        if let offer {
            let ownConnection = environment["LIFEGUARD_SERVER_ACCOUNT"].flatMap(ValueParsers.boolean) ?? false
            let sizing = MySQLSizing(offer: offer, ownConnection: ownConnection)
            text = ConfigTemplate.render(templateText, variables: sizing.variables(for: flavor),
                                         userKeys: ConfigTemplate.userKeys(printDefaultsOutput: printed, arguments: serverArguments),
                                         overrides: ConfigTemplate.overrides(environment: environment))
            let summary = ["innodb_buffer_pool_size", "max_connections", "tmp_table_size", "performance_schema"]
                .map { "\($0)=\(sizing.variables[$0] ?? "?")" }.joined(separator: " ")
            try? FileDescriptor.standardError.writeAll("lifeguard render-config: offer \(ByteCount.describe(offer)): \(summary)\n")
        } else {
            text = "# Rendered by lifeguard render-config: no memory offer (no cgroup memory limit, no LIFEGUARD_OFFER),\n# so the server's own defaults apply.\n"
            try? FileDescriptor.standardError.writeAll("lifeguard render-config: no memory offer: server defaults\n")
        }
        guard let output else {
            print(text, terminator: "")
            return 0
        }
        do {
            try AtomicFileWriter(path: output).write(text)
        } catch {
            return RunAsCommand.failure("render-config: cannot write \(output): \(error)")
        }
        return 0
    }

    /// The offer the memory guard would use: its trigger (hard limit ÷ 1.05 by default).
    static func memoryOffer(environment: [String: String]) -> UInt64? {
        var configuration = Configuration()
        configuration.command = ["mysqld"]
        try? configuration.apply(environment: environment)
        let procSelfCgroup = (try? FileDescriptor.readText("/proc/self/cgroup")) ?? ""
        guard let location = CgroupLocation.discover(root: configuration.cgroupRoot, procSelfCgroup: procSelfCgroup,
                                                     mountInfo: try? FileDescriptor.readText("/proc/self/mountinfo"),
                                                     exists: FileSystem.exists),
              let memory = try? CgroupMemory(location: location) else { return nil }
        return configuration.memoryLimit.resolve(hardLimit: memory.readLimits().hard, headroom: configuration.headroom)
    }
}
