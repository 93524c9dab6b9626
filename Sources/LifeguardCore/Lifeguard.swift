import CLifeguard
import Glibc

public enum LifeguardVersion {
    public static let string = "0.1.0"
}

/// The `lifeguard` command: parse, then supervise (or print help or the version).
public enum Lifeguard {
    public static func main(arguments: [String], environment: ProcessEnvironment) -> Never {
        let invocation: Invocation
        do {
            invocation = try CommandLineParser.parse(arguments: arguments, environment: environment.variables)
        } catch {
            fail(error.message)
        }
        switch invocation {
        case .help:
            print(HelpText.render(), terminator: "")
            exit(0)
        case .version:
            print("lifeguard \(LifeguardVersion.string)")
            exit(0)
        case .supervise(let configuration):
            supervise(configuration, environment: environment)
        }
    }

    /// Exit 2 with one line on stderr: a configuration error, before anything was started.
    static func fail(_ message: String) -> Never {
        try? FileDescriptor.standardError.writeAll("lifeguard: \(message)\n")
        exit(2)
    }

    static func supervise(_ configuration: Configuration, environment: ProcessEnvironment) -> Never {
        let signalState: SignalState
        let channel: SignalChannel
        do {
            signalState = try SignalState.takeOver()
            channel = try SignalChannel(for: signalState)
        } catch {
            fail("cannot take over signals: \(error)")
        }
        let logger = Logger(format: configuration.logFormat, minimumLevel: configuration.logLevel)
        for name in configuration.unknownVariables {
            logger.warn("unknown variable ignored", [("variable", .string(name)),
                                                     ("did_you_mean", LogValue(Configuration.suggestion(for: name)))])
        }
        let isInit = getpid() == 1
        if !isInit && lg_set_child_subreaper() != 0 {
            logger.warn("not PID 1 and cannot register as a child subreaper: orphans will not be reaped",
                        [("error", .string(Errno.current.description))])
        }
        let machine = Supervisor(settings: .init(
            gracePeriod: configuration.gracePeriod, signalProcessGroup: configuration.signalProcessGroup,
            onMemoryLimit: configuration.onMemoryLimit, maxRestarts: configuration.maxRestarts,
            restartWindow: configuration.restartWindow))
        let spawner = ChildSpawner(arguments: configuration.command, environment: environment.pairs,
                                   signalState: signalState)
        let memory = makeMemoryGuard(configuration, logger: logger)
        let loop = SupervisorLoop(machine: machine, spawner: spawner, signals: channel, logger: logger,
                                  isInit: isInit, memory: memory)
        loop.run()
    }

    /// Finds the memory cgroup and opens its files; nil (a plain init, said once) without a controller.
    static func makeMemoryGuard(_ configuration: Configuration, logger: Logger) -> MemoryGuard? {
        let procSelfCgroup = (try? FileDescriptor.readText("/proc/self/cgroup")) ?? ""
        let mountInfo = try? FileDescriptor.readText("/proc/self/mountinfo")
        guard let location = CgroupLocation.discover(root: configuration.cgroupRoot, procSelfCgroup: procSelfCgroup,
                                                     mountInfo: mountInfo, exists: { access($0, F_OK) == 0 }) else {
            logger.warn("memory guard off: no cgroup memory controller found; running as a plain init",
                        [("cgroup_root", .string(configuration.cgroupRoot))])
            return nil
        }
        let cgroup: CgroupMemory
        do {
            cgroup = try CgroupMemory(location: location)
        } catch {
            logger.warn("memory guard off: cannot open the cgroup memory files; running as a plain init",
                        [("cgroup", .string(location.directory)), ("error", .string(error.description))])
            return nil
        }
        let policy = MemoryPolicy.Settings(fillRate: Double(configuration.fillRate), stopLatency: configuration.stopLatency)
        let guardian = MemoryGuard(cgroup: cgroup, trigger: configuration.memoryLimit, headroom: configuration.headroom,
                                   policy: policy)
        var fields: LogFields = [("cgroup_version", .string(location.version.rawValue)), ("cgroup", .string(location.directory))]
        if location.usedMountRootFallback { fields.append(("fallback", "mount root")) }
        if location.version == .v1 {
            fields.append(("kernel_notifications", .string(guardian.notificationError.map { "unavailable: \($0)" } ?? "armed")))
        } else {
            fields.append(("kernel_notifications", "memory.events"))
        }
        logger.info("memory cgroup found", fields)
        return guardian
    }
}

/// The process environment, read once at start.
public struct ProcessEnvironment: Sendable {
    /// `NAME=value` strings in their original order: what the child gets.
    public var pairs: [String]
    public var variables: [String: String]

    public init(pairs: [String]) {
        self.pairs = pairs
        var variables: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            variables[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        self.variables = variables
    }

    public static func current() -> ProcessEnvironment {
        var pairs: [String] = []
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
        while let entry = cursor.pointee {
            pairs.append(String(cString: entry))
            cursor += 1
        }
        return ProcessEnvironment(pairs: pairs)
    }
}
