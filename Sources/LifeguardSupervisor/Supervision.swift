import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// Supervising COMMAND: the loop, assembled from the configuration. Everything it needs is set up
/// here, once, before the first spawn: signals, the memory guard, the status file and the notify
/// socket, the output thread.
public enum Supervision {
    /// Exit 2 with one line on stderr: a configuration error, before anything was started.
    public static func fail(_ message: String) -> Never {
        try? FileDescriptor.standardError.writeAll("lifeguard: \(message)\n")
        exit(2)
    }

    public static func run(_ configuration: Configuration, environment: ProcessEnvironment) -> Never {
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
        let isInit = Processes.current == 1
        if !isInit {
            do {
                try Processes.becomeSubreaper()
            } catch {
                logger.warn("not PID 1 and cannot register as a child subreaper: orphans will not be reaped",
                            [("error", .string(error.description))])
            }
        }
        let machine = Supervisor(settings: .init(
            gracePeriod: configuration.gracePeriod, signalProcessGroup: configuration.signalProcessGroup,
            onMemoryLimit: configuration.onMemoryLimit, onCrash: configuration.onCrash, onCorruption: configuration.onCorruption,
            maxRestarts: configuration.maxRestarts, restartWindow: configuration.restartWindow,
            restartExitCode: configuration.restartExitCode))
        let memory = makeMemoryGuard(configuration, logger: logger)
        let health = makeHealth(configuration, logger: logger)
        let spawner = ChildSpawner(arguments: configuration.command,
                                   environment: childEnvironment(environment, notifySocket: health.notify?.path,
                                                                 statusFile: configuration.statusFile),
                                   signalState: signalState)
        // The datadir's resurrect gets the server's command (it reads the datadir from its settings).
        var recovery = spawner
        recovery.arguments = [Supervisor.resurrectCommand, "--"] + configuration.command
        var shedding: Shedding?
        if let memory, health.link != nil, configuration.shedAt != .off {
            memory.shedSettings = (configuration.shedAt, configuration.shedMinimum)
            shedding = Shedding()
        }
        let loop = SupervisorLoop(machine: machine, spawner: spawner, recovery: recovery, signals: channel, logger: logger,
                                  isInit: isInit, memory: memory, health: health, shedding: shedding)
        loop.run()
    }

    /// The command's environment: Lifeguard's own, with NOTIFY_SOCKET pointing at Lifeguard's notify
    /// socket, MYSQLD_PARENT_PID, which lets MySQL's RESTART statement work (mysqld exits 16 and
    /// Lifeguard starts it again), and LIFEGUARD_STATUS_FILE as Lifeguard uses it (given as an option,
    /// too), so that the entrypoint and resurrect put their report beside it.
    static func childEnvironment(_ environment: ProcessEnvironment, notifySocket: String?, statusFile: String? = nil) -> [String] {
        var pairs = environment.pairs.filter {
            !$0.hasPrefix("NOTIFY_SOCKET=") && !$0.hasPrefix("MYSQLD_PARENT_PID=") && !$0.hasPrefix("LIFEGUARD_STATUS_FILE=")
        }
        if let notifySocket { pairs.append("NOTIFY_SOCKET=" + notifySocket) }
        if let statusFile { pairs.append("LIFEGUARD_STATUS_FILE=" + statusFile) }
        pairs.append("MYSQLD_PARENT_PID=\(Processes.current)")
        return pairs
    }

    /// The status file, the notify socket next to it, and the readiness prober.
    static func makeHealth(_ configuration: Configuration, logger: Logger) -> Health {
        var base = Status()
        base.lifeguardPID = Processes.current
        base.command = configuration.command.first.map { String($0.split(separator: "/").last ?? Substring($0)) }
        base.instance = Processes.hostname
        base.startedAt = .now()
        base.statusInterval = configuration.statusInterval
        base.bootID = StatusAge.currentBootID()
        // Signals are blocked by now: the output thread inherits the mask and never receives one.
        let files = StatusFiles(statusPath: configuration.statusFile, metricsPath: configuration.metricsFile, logger: logger)
        let output = OutputThread(files: files)
        let reporter: StatusReporter
        do {
            try output.start()
            logger.send(to: output)
            reporter = StatusReporter(interval: configuration.statusInterval, deliver: output.submit)
        } catch {
            logger.warn("cannot start the output thread: status and log writes happen in the loop",
                        [("error", .string(error.description))])
            reporter = StatusReporter(interval: configuration.statusInterval, deliver: files.write)
        }
        var notify: NotifyListener?
        if let statusFile = configuration.statusFile {
            let directory = AtomicFileWriter(path: statusFile).directory
            let path = directory + "/notify.sock"
            do {
                try AtomicFileWriter.makeDirectories(directory)
                notify = try NotifyListener(path: path)
            } catch {
                logger.warn("no notify socket: readiness by handshake only", [("path", .string(path)), ("error", .string(error.description))])
            }
        }
        let address = configuration.readyAddress ?? ReadyAddress.default(forCommand: configuration.command)
        let prober = address == .none ? nil : ReadinessProber(address: address)
        logger.info("status", [("status_file", LogValue(configuration.statusFile)), ("notify_socket", LogValue(notify?.path)),
                               ("ready_address", .string(address.description))])
        var link: ServerLink?
        if configuration.serverAccount, case .unix(let path) = address {
            let account = ServerLink.account()
            link = ServerLink(socketPath: path, peerUserID: account.peerUserID, user: account.user,
                              retryDelay: configuration.serverCheckInterval, attemptTimeout: configuration.serverCheckInterval)
        }
        let health = Health(notify: notify, prober: prober, link: link, reporter: reporter, output: output.isRunning ? output : nil, base: base,
                            statusFile: configuration.statusFile)
        health.check = ResponseCheck(interval: configuration.serverCheckInterval, timeout: configuration.serverCheckInterval)
        if link != nil, let lag = configuration.maxReplicaLag {
            health.replica = ReplicaCheck(maxLag: UInt64(lag.seconds.rounded(.down)), interval: configuration.serverCheckInterval,
                                          timeout: configuration.serverCheckInterval)
        }
        return health
    }

    /// Finds the memory cgroup and opens its files; nil (a plain init, said once) without a controller.
    static func makeMemoryGuard(_ configuration: Configuration, logger: Logger) -> MemoryGuard? {
        let procSelfCgroup = (try? FileDescriptor.readText("/proc/self/cgroup")) ?? ""
        let mountInfo = try? FileDescriptor.readText("/proc/self/mountinfo")
        guard let location = CgroupLocation.discover(root: configuration.cgroupRoot, procSelfCgroup: procSelfCgroup,
                                                     mountInfo: mountInfo, exists: FileSystem.exists) else {
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
