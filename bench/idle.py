"""Item 2: what supervising costs while nothing happens. Idle MariaDB servers in 256 MiB cgroups, under
Lifeguard (on the host, and as in a container) and under tini, and naive fixed-interval pollers watching
the first one's cgroup, all measured over the same window: CPU time and wake-ups (context switches) of
the supervisor alone."""
import os
import subprocess
import time

from common import LIFEGUARD, MIB, NAIVE_POLLER, TINI, Cgroup, MariaDB, children_of, context_switches, cpu_seconds, stop
from race import container, stop_container

LIMIT = 256 * MIB
POLL_INTERVALS_US = [100_000, 10_000, 1_000]
CACHE_FILE = "/var/tmp/lifeguard-bench-idle-cache"
# (name, as in a container?, Lifeguard's extra environment (None: tini), page cache filled to the limit?)
SUPERVISORS = [
    ("lifeguard, host (kernel threshold armed)", False, [], False),
    ("lifeguard, container (read-only cgroupfs: polling)", True, [], False),
    ("lifeguard, container, LIFEGUARD_FILL_RATE=1G/s", True, ["LIFEGUARD_FILL_RATE=1G/s"], False),
    ("lifeguard, host, page cache full", False, [], True),
    ("lifeguard, container, page cache full", True, [], True),
    ("tini", False, None, False),
]


def fill_cache(cgroup, path):
    """Reads a file written around the cache inside the cgroup until its usage reaches the limit: the
    server's cgroup then holds as much page cache as it can, as a container that reads or writes files
    does all day, and every sample needs memory.stat."""
    with open(path, "rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    subprocess.run(cgroup.enter_command(["dd", f"if={path}", "of=/dev/null", "bs=1M"]), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_server(name, as_container, lifeguard_environment, cgroup):
    server = MariaDB(name)
    if lifeguard_environment is None:
        command = cgroup.enter_command([TINI, "--"] + server.command())
    else:
        command = (["env", f"LIFEGUARD_STATUS_FILE={server.directory}/status/status.json"] + lifeguard_environment
                   + [LIFEGUARD, "--"] + server.command())
        command = container(cgroup, command) if as_container else cgroup.enter_command(command)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not server.wait_ready():
        raise SystemExit(f"bench: MariaDB under {name} did not start; see {server.log}")
    # The supervisor itself: under unshare, PID 1 of the namespace.
    supervisor = children_of(process.pid)[0] if as_container else process.pid
    return server, process, supervisor


def run(options):
    window = 20 if options.quick else 60
    cgroups = [Cgroup(f"idle-{index}", LIMIT) for index in range(len(SUPERVISORS))]
    started = []
    pollers = []
    try:
        for index, ((name, as_container, environment, cache_full), cgroup) in enumerate(zip(SUPERVISORS, cgroups)):
            started.append((name, cgroup) + start_server(f"idle-{len(started)}", as_container, environment, cgroup))
            if cache_full:
                # A file of its own: dropping a shared file's pages before the next fill would empty this one.
                cache_file = f"{CACHE_FILE}-{index}"
                subprocess.run(["dd", "if=/dev/zero", f"of={cache_file}", "bs=1M", f"count={2 * LIMIT // MIB}", "oflag=direct"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                fill_cache(cgroup, cache_file)
        trigger = int(LIMIT / 1.05)
        watched_server = started[0][3]
        pollers = [subprocess.Popen([NAIVE_POLLER, cgroups[0].path, str(interval), str(trigger), str(watched_server.pid)],
                                    stdout=subprocess.DEVNULL) for interval in POLL_INTERVALS_US]
        # Past Lifeguard's settle (5 s) and MariaDB's own start-up work.
        time.sleep(8)
        watched = [(name, supervisor, cgroup) for name, cgroup, _, _, supervisor in started]
        watched += [(f"naive poller, {interval // 1000} ms", poller.pid, cgroups[0])
                    for interval, poller in zip(POLL_INTERVALS_US, pollers)]
        before = {pid: (cpu_seconds(pid), context_switches(pid)) for _, pid, _ in watched}
        began = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - began
        rows = []
        for name, pid, cgroup in watched:
            cpu = cpu_seconds(pid) - before[pid][0]
            wakeups = context_switches(pid) - before[pid][1]
            rows.append([name, f"{cgroup.unreclaimable() / cgroup.limit * 100:.0f} %", f"{cgroup.usage() / cgroup.limit * 100:.0f} %",
                         f"{cpu * 1000:.0f} ms", f"{cpu / elapsed * 100:.3f} %", f"{wakeups / elapsed * 60:.0f}",
                         f"{cpu / max(wakeups, 1) * 1e6:.0f} µs"])
            options.log(f"idle {name}: cpu {cpu:.3f} s, wake-ups {wakeups} in {elapsed:.1f} s")
    finally:
        for index in range(len(SUPERVISORS)):
            if os.path.exists(f"{CACHE_FILE}-{index}"):
                os.unlink(f"{CACHE_FILE}-{index}")
        for poller in pollers:
            poller.kill()
            poller.wait()
        for name, _, server, process, _ in started:
            (stop_container if "container" in name else stop)(process)
            server.remove()
        for cgroup in cgroups:
            cgroup.close()
    share = {row[0]: float(row[4].split()[0]) for row in rows}
    return {
        "title": f"2. Idle cost: supervising an idle MariaDB for {window} s",
        "header": ["supervisor", "unreclaimable / limit", "usage / limit", "CPU in the window", "of one core", "wake-ups per minute",
                   "CPU per wake-up"],
        "rows": rows,
        "goal": "Lifeguard ≤ 0.05 % of one core, on the host and in a container",
        "met": share[SUPERVISORS[0][0]] <= 0.05 and share[SUPERVISORS[1][0]] <= 0.05,
        "notes": ["CPU is the scheduler's run time of every thread (/proc/PID/task/*/schedstat, nanoseconds); "
                  "wake-ups are voluntary + involuntary context switches. The pollers watch the first server's "
                  "cgroup with a trigger that is not reached; they are what a fixed interval costs.",
                  "Host: the cgroup is writable, so the kernel's usage threshold (cgroup.event_control) wakes Lifeguard "
                  "when memory nears the trigger and it samples once a second below it. Container: PID 1 with cgroupfs "
                  "read-only (as in Docker), where no kernel notification can be armed and the guard polls as fast as "
                  "LIFEGUARD_FILL_RATE requires: at 30 % of 256 MiB and 4 GiB/s, a sample about every 40 ms. A wake-up "
                  "itself costs about 40 µs of CPU on this virtual machine (a bare nanosleep loop, measured).",
                  "Why the container case misses the goal, and stays so: 0.05 % of a core is at most about 10 wake-ups "
                  "a second here, a sample every 100 ms, and two threads take a 256 MiB container from 30 % to its hard "
                  "limit in well under 100 ms (section 4, last column: they grow memory at 2–2.7 GB/s here). A guard "
                  "that samples every 100 ms at 30 % loses that race: LIFEGUARD_FILL_RATE=1G/s, which costs "
                  f"{share[SUPERVISORS[2][0]]:.3f} % here, loses it in a share of those bursts (section 4, last column), "
                  "the default in none. Lifeguard keeps the default that wins the race; an operator who knows the "
                  "database cannot grow that fast can trade safety for idle CPU with LIFEGUARD_FILL_RATE. The cost "
                  "shrinks with the container: the interval grows with the distance to the trigger (1 s at 30 % of 8 GiB).",
                  "\"page cache full\": the server's cgroup is then filled with page cache to its limit (a file read in "
                  "it), as a container that reads or writes files is all day. Usage stays at the limit, so the kernel's "
                  "usage threshold is always crossed and usage alone proves nothing: the guard polls on what the kernel "
                  "cannot reclaim and every sample reads memory.stat as well, so on the host it costs what it costs in a "
                  "container."],
    }
