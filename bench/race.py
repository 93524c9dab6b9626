"""Items 3 and 4: the growth-rate race with the article's numbers (256 MiB hard limit, trigger = limit
÷ 1.05) in a real v1 cgroup. A hog fills memory to 90 % of the trigger, pauses, then allocates and
touches memory at a set rate (1 or 2 threads) and exits on SIGTERM. Counted: kernel OOM kills per run
for each guard; measured in the hog: from the memory the guard counts (usage less the file cache)
crossing the trigger to SIGTERM arriving."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from common import HELPER, LIFEGUARD, MIB, NAIVE_POLLER, Cgroup, children_of, percentile, stop, wait_until
from timeline import Timeline

LIMIT = 256 * MIB
TRIGGER = int(LIMIT / 1.05)

def prefill_mib(fraction):
    """The hog's own anonymous memory for a working set at `fraction` of the trigger (its runtime adds
    a few MiB)."""
    return int(TRIGGER * fraction) // MIB - 4


# (label, MB/s or "max", threads, where the growth starts as a fraction of the trigger): the growth
# starts from a still working set, after a pause long enough for any guard to slow down.
RATES = [("10 MB/s", "10", 1, 0.9), ("50 MB/s", "50", 1, 0.9), ("300 MB/s", "300", 1, 0.9),
         ("1 GB/s", "1000", 1, 0.9), ("max, 1 thread", "max", 1, 0.9), ("max, 2 threads", "max", 2, 0.9),
         ("max, 2 threads, from 30 %", "max", 2, 0.3)]
GUARDS = ["lifeguard, container", "lifeguard, host", "lifeguard, container, fill rate 1G/s", "naive 1 s",
          "naive 100 ms", "naive 10 ms", "no guard"]
LIFEGUARD_GUARDS = GUARDS[:3]
SLOW_RATE_GUARDS = GUARDS[:2]  # 10 MB/s is run for the reaction figures only


def container(cgroup, command):
    """As in an unprivileged container: PID 1 of a new PID namespace, cgroupfs read-only, so the guard
    cannot arm a kernel threshold and can only poll."""
    return cgroup.enter_command(["unshare", "--pid", "--fork", "--mount", "--mount-proc", "sh", "-c",
                                 'mount -o remount,bind,ro /sys/fs/cgroup/memory && exec "$@"', "sh"] + command)


def stop_container(process, timeout=90):
    """What `docker stop` does to a process started by container(): SIGTERM to PID 1 of its namespace
    (unshare's child), then wait for unshare, which exits with it."""
    if process.poll() is None:
        for pid in children_of(process.pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    stop(process, timeout)


# Section 4c: the same hogs after the page cache was filled to 90 % of the limit, clean (a file read)
# or dirty (a writer that keeps writing through the burst): the burst must make the kernel reclaim
# cache first, and the guard must see through the cache to the hog's anonymous memory.
CACHE_RATES = [rate for rate in RATES if rate[1] != "10"]
CACHES = ["clean", "dirty"]
CACHE_GUARDS = ["lifeguard, container", "lifeguard, host", "no guard"]
CACHE_START = 0.3


class PageCache:
    """Fills the race cgroup's page cache before a run: `clean` reads a file that was written around
    the cache (so its pages are charged to the cgroup as they are read); `dirty` starts a writer in the
    cgroup that rewrites a 512 MiB file until `stop`, so the cache stays full of dirty pages."""

    def __init__(self, kind, cgroup, directory):
        self.kind, self.cgroup = kind, cgroup
        self.path = os.path.join(directory, f"cache-{kind}")
        self.writer = None
        if kind == "clean":
            subprocess.run(["dd", "if=/dev/zero", f"of={self.path}", "bs=1M", f"count={LIMIT // MIB}", "oflag=direct"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def fill(self, fraction=0.9):
        target = int(LIMIT * fraction)
        if self.kind == "clean":
            with open(self.path, "rb") as handle:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            need = max(0, target - self.cgroup.usage()) // MIB
            subprocess.run(self.cgroup.enter_command(["dd", f"if={self.path}", "of=/dev/null", "bs=1M", f"count={need}"]),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            loop = f'while :; do dd if=/dev/zero of="{self.path}" bs=1M count=512 conv=notrunc 2>/dev/null; done'
            self.writer = subprocess.Popen(self.cgroup.enter_command(["sh", "-c", loop]), start_new_session=True)
            wait_until(lambda: self.cgroup.usage() >= target, 10)

    def stop(self):
        if self.writer is not None:
            os.killpg(self.writer.pid, signal.SIGKILL)
            self.writer.wait()
            self.writer = None

    def close(self):
        self.stop()
        if os.path.exists(self.path):
            os.unlink(self.path)


def one_run(guard, rate, threads, start, cgroup, directory, cache=None):
    """Runs one race (after `cache.fill()`, when given); returns (OOM-killed, Timeline)."""
    timeline_path = os.path.join(directory, "timeline")
    if cache is not None:
        cache.fill()
    hog = [HELPER, "hog", rate, "--threads", str(threads), "--prefill", str(prefill_mib(start)), "--prefill-rate", "400",
           "--pause", "1.5", "--timeline", timeline_path, "--cgroup", cgroup.path]
    kills = cgroup.oom_kills()
    poller = None
    if guard.startswith("lifeguard"):
        fill = ["LIFEGUARD_FILL_RATE=1G/s"] if guard.endswith("1G/s") else []
        command = ["env", f"LIFEGUARD_STATUS_FILE={directory}/status.json", "LIFEGUARD_READY_ADDRESS=none"] + fill + [
            LIFEGUARD, "--on-memory-limit", "exit", "--grace-period", "10", "--"] + hog
        command = container(cgroup, command) if "container" in guard else cgroup.enter_command(command)
        with open(os.path.join(directory, "lifeguard.log"), "w") as log:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    else:
        process = subprocess.Popen(cgroup.enter_command(hog), stdout=subprocess.DEVNULL)
        if guard.startswith("naive"):
            value, unit = guard.split()[1:]
            interval = int(float(value) * (1_000_000 if unit == "s" else 1000))
            poller = subprocess.Popen([NAIVE_POLLER, cgroup.path, str(interval), str(TRIGGER), str(process.pid)],
                                      stdout=subprocess.DEVNULL)
    try:
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if poller:
            poller.kill()
            poller.wait()
        if cache is not None:
            cache.stop()
    killed = cgroup.oom_kills() > kills
    if killed and guard.startswith("lifeguard"):
        # A lost race is kept for reading: Lifeguard's log and the kernel's report.
        kept = f"/var/tmp/lifeguard-race-kill-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        shutil.copy(os.path.join(directory, "lifeguard.log"), kept + ".log")
        with open(kept + ".dmesg", "w") as handle:
            subprocess.run(["dmesg"], stdout=handle, stderr=subprocess.DEVNULL)
    return killed, Timeline(timeline_path)


def run(options):
    cgroup = Cgroup("race", LIMIT, soft_limit=int(LIMIT * 0.95))
    kills, reactions, rates = {}, {}, {}
    try:
        with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
            for label, rate, threads, start in RATES:
                for guard in GUARDS:
                    if rate == "10" and guard not in SLOW_RATE_GUARDS:
                        continue
                    outcomes = [one_run(guard, rate, threads, start, cgroup, directory) for _ in range(options.runs)]
                    kills[guard, label] = sum(killed for killed, _ in outcomes)
                    reactions[guard, label] = [t.reaction_ms(TRIGGER) for _, t in outcomes if t.reaction_ms(TRIGGER) is not None]
                    rates.setdefault(label, []).extend(t.rate() for _, t in outcomes if t.rate())
                    options.log(f"race {label} {guard}: {kills[guard, label]}/{options.runs} OOM-killed")
        cache_kills = cache_races(options, cgroup)
    finally:
        cgroup.close()
    return [reaction_section(reactions, rates), race_section(options, kills, rates), cache_section(options, cache_kills)]


def cache_races(options, cgroup):
    """Section 4c's runs: {(guard, cache, label): (kills, runs)}."""
    kills = {}
    no_guard_runs = max(2, options.runs // 4)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
        for kind in CACHES:
            cache = PageCache(kind, cgroup, directory)
            try:
                for label, rate, threads, _ in CACHE_RATES:
                    for guard in CACHE_GUARDS:
                        runs = no_guard_runs if guard == "no guard" else options.runs
                        outcomes = [one_run(guard, rate, threads, CACHE_START, cgroup, directory, cache) for _ in range(runs)]
                        kills[guard, kind, label] = (sum(killed for killed, _ in outcomes), runs)
                        options.log(f"race, {kind} cache, {label}, {guard}: {kills[guard, kind, label][0]}/{runs} OOM-killed")
            finally:
                cache.close()
    return kills


def cache_section(options, kills):
    header = ["guard", "page cache"] + [label for label, *_ in CACHE_RATES]
    rows = [[guard, kind] + [f"{kills[guard, kind, label][0]}/{kills[guard, kind, label][1]}" for label, *_ in CACHE_RATES]
            for guard in CACHE_GUARDS for kind in CACHES]
    met = all(kills[guard, kind, label][0] == 0 for guard in CACHE_GUARDS[:2] for kind in CACHES for label, *_ in CACHE_RATES)
    return {
        "title": "4c. The race with a full page cache: kernel OOM kills / runs (256 MiB hard limit)",
        "header": header, "rows": rows,
        "goal": "Lifeguard (default settings): zero kernel OOM kills at every rate, with clean and with dirty cache",
        "met": met,
        "notes": ["Before each run the cgroup's page cache is filled to 90 % of the limit: \"clean\" by reading a file "
                  "written with direct I/O (its pages are charged to the cgroup as they are read); \"dirty\" by a "
                  "writer in the cgroup that rewrites a 512 MiB file and keeps writing through the burst. Then the same "
                  "hog as in section 4 fills its anonymous memory to 30 % of the trigger (displacing cache), stays still "
                  "for 1.5 s and grows at the rate until SIGTERM: every byte it takes must first be reclaimed from the "
                  "cache. \"no guard\" shows the race is real; it runs a quarter as many times."],
    }


def measured(rates, label):
    value = percentile(rates.get(label, []), 0.5)
    return f"{value / 1e6:.0f} MB/s" if value else "?"


def race_section(options, kills, rates):
    header = ["guard"] + [f"{label} ({measured(rates, label)})" for label, *_ in RATES]
    rows = [[guard] + [f"{kills[guard, label]}/{options.runs}" if (guard, label) in kills else "–" for label, *_ in RATES]
            for guard in GUARDS]
    met = all(kills[guard, label] == 0 for guard in SLOW_RATE_GUARDS for label, *_ in RATES)
    return {
        "title": "4. The growth-rate race: kernel OOM kills / runs (256 MiB hard limit, trigger limit ÷ 1.05)",
        "header": header, "rows": rows,
        "goal": "Lifeguard (default settings): zero kernel OOM kills at every rate, 1 and 2 threads",
        "met": met,
        "notes": ["In brackets: the growth rate measured in the hog (median of the runs). Each hog first fills to "
                  "90 % of the trigger (30 % in the last column) at 400 MB/s, stays still for 1.5 s, then grows at the "
                  "rate until SIGTERM. \"container\": Lifeguard as PID 1 with cgroupfs read-only, polling alone; "
                  "\"host\": cgroupfs writable, so a kernel threshold (cgroup.event_control) wakes it too and it "
                  "samples once a second below it; \"fill rate 1G/s\": the container case with LIFEGUARD_FILL_RATE "
                  "lowered to 1 GiB/s, the setting that would make its idle cost small (section 2). The naive pollers "
                  "read usage and memory.stat at a fixed interval (bench/tools/naive-poller.c). 10 MB/s is run for "
                  "Lifeguard's reaction figures only."],
    }


def reaction_section(reactions, rates):
    rows = []
    for guard in LIFEGUARD_GUARDS + ["naive 10 ms"]:
        for label, *_ in RATES:
            values = reactions.get((guard, label))
            if not values:
                continue
            early = sum(value < 0 for value in values)
            rows.append([guard, label, measured(rates, label), len(values), f"{percentile(values, 0.5):.1f} ms",
                         f"{percentile(values, 0.99):.1f} ms", f"{max(values):.1f} ms", early])
    lifeguard = [row for row in rows if row[0] in SLOW_RATE_GUARDS and "30 %" not in row[1]]
    return {
        "title": "3. Reaction latency: unreclaimable memory crossing the trigger → SIGTERM arriving, in the child",
        "header": ["guard", "rate", "measured rate", "runs with SIGTERM", "p50", "p99", "max", "stopped before the trigger"],
        "rows": rows,
        "goal": "p99 ≤ 10 ms once unreclaimable memory is within 10 % of the trigger",
        "met": bool(lifeguard) and all(float(row[5].split()[0]) <= 10 for row in lifeguard),
        "notes": ["The hog reads its cgroup's unreclaimable memory (usage less the file cache, as the guard counts it) after each 1 MiB chunk and timestamps it (CLOCK_MONOTONIC); "
                  "the crossing is interpolated between the readings on either side. Negative: SIGTERM came before "
                  "the trigger, because at the observed rate the hard limit was less than the stop latency (20 ms) "
                  "away; the last column counts those runs."],
    }
