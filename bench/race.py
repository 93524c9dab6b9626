"""Items 3 and 4: the growth-rate race with the article's numbers (256 MiB hard limit, trigger = limit
÷ 1.05) in a real v1 cgroup. A hog fills memory to 90 % of the trigger, pauses, then allocates and
touches memory at a set rate (1 or 2 threads) and exits on SIGTERM. Counted: kernel OOM kills per run
for each guard; measured in the hog: from the working set crossing the trigger to SIGTERM arriving."""
import os
import signal
import subprocess
import tempfile

from common import HELPER, LIFEGUARD, MIB, NAIVE_POLLER, Cgroup, children_of, percentile, stop
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


def one_run(guard, rate, threads, start, cgroup, directory):
    """Runs one race; returns (OOM-killed, Timeline)."""
    timeline_path = os.path.join(directory, "timeline")
    hog = [HELPER, "hog", rate, "--threads", str(threads), "--prefill", str(prefill_mib(start)), "--prefill-rate", "400",
           "--pause", "1.5", "--timeline", timeline_path, "--cgroup", cgroup.path]
    kills = cgroup.oom_kills()
    poller = None
    if guard.startswith("lifeguard"):
        fill = ["LIFEGUARD_FILL_RATE=1G/s"] if guard.endswith("1G/s") else []
        command = ["env", f"LIFEGUARD_STATUS_FILE={directory}/status.json", "LIFEGUARD_READY_ADDRESS=none"] + fill + [
            LIFEGUARD, "--on-memory-limit", "exit", "--grace-period", "10", "--"] + hog
        command = container(cgroup, command) if "container" in guard else cgroup.enter_command(command)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    return cgroup.oom_kills() > kills, Timeline(timeline_path)


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
    finally:
        cgroup.close()
    return [reaction_section(reactions, rates), race_section(options, kills, rates)]


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
        "title": "3. Reaction latency: the working set crossing the trigger → SIGTERM arriving, in the child",
        "header": ["guard", "rate", "measured rate", "runs with SIGTERM", "p50", "p99", "max", "stopped before the trigger"],
        "rows": rows,
        "goal": "p99 ≤ 10 ms once the working set is within 10 % of the trigger",
        "met": bool(lifeguard) and all(float(row[5].split()[0]) <= 10 for row in lifeguard),
        "notes": ["The hog reads its cgroup's working set after each 1 MiB chunk and timestamps it (CLOCK_MONOTONIC); "
                  "the crossing is interpolated between the readings on either side. Negative: SIGTERM came before "
                  "the trigger, because at the observed rate the hard limit was less than the stop latency (20 ms) "
                  "away; the last column counts those runs."],
    }
