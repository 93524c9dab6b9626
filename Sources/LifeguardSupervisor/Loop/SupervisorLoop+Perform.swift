import Glibc
import LifeguardCgroup
import LifeguardStatus
import LifeguardSystem

/// The performer: each action the state machine returns, done. The system calls go through
/// LifeguardSystem's typed wrappers, whose debug-build mock lets the tests force the rare results
/// (ESRCH from a child that just exited, EPERM, EINTR).
extension SupervisorLoop {
    func perform(_ actions: ActionList, now: MonotonicInstant) {
        // Indexed directly, not through the Collection protocol: in a debug build its `read` coroutine
        // allocates a frame, and this runs on the emergency path before kill(2) (`Footprint`, rule 6).
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .spawn, .spawnResurrect:
                let spawning = action == .spawn ? spawner : (recovery ?? spawner)
                switch spawning.spawn() {
                case .success(let pid): perform(machine.spawned(pid: pid, now: now), now: now)
                case .failure(let error): perform(machine.spawnFailed(error, now: now), now: now)
                }
            case .signal(let signal, let target):
                send(signal, to: target)
            case .startSampling:
                memory?.startSampling(now: now)
                // The first burst may come at once: its path must be resident (and locked) before.
                if !emergencyPathWarm {
                    emergencyPathWarm = true
                    warmEmergencyPath(now: now)
                }
            case .stopSampling:
                memory?.stopSampling()
                serverGone()
            case .beginReadiness(let pid):
                health.childStarted(pid: pid, now: now)
            case .endReadiness:
                health.prober?.end()
            case .checkOOMKills:
                if let memory { log(memory.checkOOMKills()) }
            case .report(let event):
                report(event)
            case .exit(let code):
                finish(code: code)
            }
        }
    }

    /// kill(2) for the target. A child that exited a moment ago (ESRCH) is no error: its SIGCHLD is
    /// queued and the reaper collects it next. Anything else (EPERM: the command became a user that a
    /// Lifeguard not running as root may not signal) is said, with what was not delivered.
    func send(_ signal: Signal, to target: SignalTarget) {
        let pid: pid_t
        switch target {
        case .process(let child): pid = child
        case .processGroup(let group): pid = -group
        case .remaining:
            ProcessTree.signalRemaining(signal, isInit: isInit)
            return
        }
        do {
            try Processes.send(signal, to: pid)
        } catch where error == .noSuchProcess {
            logger.debug("signal not sent: the process has already exited", [("signal", .string(signal.description))] + target.logFields)
        } catch {
            logger.warn("cannot send the signal", [("signal", .string(signal.description)), ("error", .string(error.description))]
                        + target.logFields)
        }
    }

    private func report(_ event: SupervisorEvent) {
        if case .ready = event {
            health.readySince = .now()
            serverReady(now: .now())
        }
        // A stop drops Lifeguard's own connection at once (after the signal: nothing waits for it).
        switch event {
        case .stopBegan, .serverStopping: serverGone()
        default: break
        }
        logger.log(event.logLevel, event.logMessage, event.logFields)
        if let (reason, detail) = event.statusEvent { health.record(reason: reason, detail: detail) }
        statusDirty = true
    }

    /// The last status write, then exit.
    private func finish(code: Int32) -> Never {
        writeStatus(now: .now(), exitCode: code)
        // What was handed over is written before exiting, unless stderr or the disk hangs.
        health.output?.flush(timeout: .seconds(2))
        // Best effort: a leftover socket file is replaced at the next bind.
        if let notify = health.notify { try? FileSystem.remove(notify.path) }
        exit(code)
    }

    // MARK: - Footprint (see `Footprint` for the residency rules)

    /// Once start-up is over: drop the pages it used, bring the memory-emergency path back in by
    /// running it without effect, and lock what the loop uses.
    func settle() {
        settleAt = nil
        let debug = logger.isEnabled(.debug)
        let before = debug ? Footprint.residentPages() : 0
        let mappings = Footprint.executableMappings()
        Footprint.unlock()
        Footprint.settle(mappings)
        // Warmed before the lock: where the limit allows only the resident pages, these are among them.
        warmEmergencyPath(now: .now())
        memoryLock = Footprint.lock()
        if debug {
            logger.debug("settled", [("resident_kib_before", LogValue(before * MemoryCalls.pageSize / 1024)),
                                     ("memory_locked", LogValue(String(describing: memoryLock)))])
        }
    }

    /// Says once, at start, what could not be locked and how to allow it.
    func logMemoryLock() {
        let hint: (String, LogValue) = ("hint", "raise RLIMIT_MEMLOCK (ulimit -l; docker run --ulimit memlock=...) or grant CAP_IPC_LOCK")
        switch memoryLock {
        case .all:
            break
        case .regions(let locked, let limit, complete: true):
            logger.info("Lifeguard's memory locked region by region (RLIMIT_MEMLOCK refuses locking it all): its code and data stay in memory",
                        [("locked_kib", LogValue(Int(locked / 1024))), ("memlock_limit_kib", limit.map { LogValue(Int($0 / 1024)) } ?? "unlimited")])
        case .regions(let locked, let limit, complete: false):
            logger.warn("RLIMIT_MEMLOCK allows locking only part of Lifeguard's memory: under memory pressure the rest may be evicted and slow the guard",
                        [("locked_kib", LogValue(Int(locked / 1024))), ("memlock_limit_kib", limit.map { LogValue(Int($0 / 1024)) } ?? "unlimited"), hint])
        case .none(let error):
            logger.warn("cannot lock Lifeguard's memory: under memory pressure its own code may be evicted and slow the guard",
                        [("error", .string(error.description)), hint])
        }
    }

    /// The path from a reading over the trigger to kill(2), run on copies with signal 0 (which only
    /// checks the process exists), so that its pages are resident when it matters.
    func warmEmergencyPath(now: MonotonicInstant) {
        guard let memory, let trigger = memory.policy?.trigger else { return }
        _ = memory.policy?.decide(MemoryReading(usage: trigger, inactiveFile: 0), growthRate: 0)  // run for its pages only
        let reading = memory.cgroup.read(exact: true)
        // Right after the first spawn no sample has run yet: a report is made from this reading.
        guard let report = memory.report(for: .reachedTrigger) ?? reading.map({
            MemoryTriggerReport(reading: $0, trigger: trigger, hardLimit: memory.limits.hard, reason: .reachedTrigger, growthRate: 0)
        }) else { return }
        var copy = machine
        let actions = copy.memoryLimitReached(report, now: now)
        if actions.count > 0, case .signal(_, let target) = actions[0] { send(Signal(rawValue: 0), to: target) }
    }
}
