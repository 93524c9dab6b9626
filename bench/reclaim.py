"""Section 7: what the kernel cannot take back in time, with no guard at all. The question behind the
figure Lifeguard decides on (MemoryReading.unreclaimable): the kernel reclaims clean page cache before
it kills anything, but dirty pages must be written back first, pages under writeback cannot be taken
until the write ends, and "reclaimable" slab may not be. Each trial holds anonymous memory at a level
in a 256 MiB cgroup while something fills the rest, and counts the kernel's OOM kills; at a kill, the
kernel's own report says how much file cache (dirty, under writeback) it left.

- host (this machine's v1 controller, a fast disk): two writers, then a hog holding the level;
- VM (Debian's 6.1 kernel under qemu, v1 and v2; scripts/vm/reclaim-question.sh): the same on a disk
  throttled to 20 MB/s and on an unthrottled one, and files created next to 200 MiB (slab);
- Docker (the image, guard off): 600 MB written into the datadir of an idle MariaDB, again and again."""
import os
import re
import subprocess
import tempfile
import time

from common import HELPER, LIFEGUARD, MIB, ROOT, Cgroup

LIMIT = 256 * MIB
HOST_LEVELS = [236, 240, 244]
VM_LEVELS = [230, 236, 240]


def dmesg_report():
    """The memory figures of the kernel's last OOM report ({key: bytes})."""
    text = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    start = text.rfind("Memory cgroup stats for")
    figures = {}
    for line in text[start:].splitlines()[1:60] if start >= 0 else []:
        words = line.split("]", 1)[-1].split()
        if len(words) == 2 and words[1].isdigit():
            figures.setdefault(words[0], int(words[1]))
    return figures


def host_trials(runs, log):
    """{level: (kills, runs, largest file cache left at a kill, its dirty and writeback part)} on this host."""
    results = {}
    with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
        for level in HOST_LEVELS:
            kills, left, pending = 0, 0, 0
            for trial in range(runs):
                cgroup = Cgroup(f"reclaim-{os.getpid()}", LIMIT)
                try:
                    writers = [subprocess.Popen(cgroup.enter_command(["dd", "if=/dev/zero", f"of={directory}/w{trial}-{n}",
                                                                      "bs=1M", "count=100000"]),
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(2)]
                    time.sleep(3)
                    hog = subprocess.Popen(cgroup.enter_command([HELPER, "hog", "max", "--stop-at", str(level)]),
                                           stdout=subprocess.DEVNULL)
                    time.sleep(8)
                    killed = cgroup.oom_kills()
                    if killed:
                        report = dmesg_report()
                        left = max(left, report.get("total_cache", 0))
                        pending = max(pending, report.get("total_dirty", 0) + report.get("total_writeback", 0))
                    kills += min(killed, 1)
                    for process in writers + [hog]:
                        process.kill()
                        process.wait()
                finally:
                    cgroup.close()
                    for name in os.listdir(directory):
                        os.unlink(os.path.join(directory, name))
            results[level] = (kills, runs, left, pending)
            log(f"reclaim host, 2 writers, {level} MiB held: {kills}/{runs} OOM-killed")
    return results


def vm_trials(version, runs, log):
    """The VM's TRIAL lines, parsed."""
    scenario = tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False)
    with open(os.path.join(ROOT, "scripts/vm/reclaim-question.sh")) as body:
        scenario.write(f'LEVELS="{" ".join(map(str, VM_LEVELS))}"\nRUNS={runs}\nFAST_RUNS={max(1, runs // 2)}\nSLAB_RUNS=2\n'
                       + body.read())
    scenario.close()
    try:
        result = subprocess.run([os.path.join(ROOT, "scripts/cgroup-v2-vm"), LIFEGUARD, HELPER, scenario.name, "3000"],
                                capture_output=True, text=True, env=dict(os.environ, VM_DISKS="1", VM_CGROUP=version))
    finally:
        os.unlink(scenario.name)
    trials = [dict(re.findall(r"(\w+)=(\S+)", line)) for line in result.stdout.replace("\r", "").splitlines()
              if line.startswith("TRIAL ")]
    if not trials:
        raise SystemExit(f"bench: the {version} VM gave no trials: {result.stdout[-2000:]} {result.stderr[-1000:]}")
    log(f"reclaim VM {version}: {len(trials)} trials")
    return trials


def docker_trials(options, runs):
    """(kills, runs, dirty left at a kill) for 600 MB written into an idle MariaDB's datadir, guard off."""
    import false_stops
    import images
    log = options.log
    server = false_stops.DockerServer(images.current(options), False, environment={"LIFEGUARD_MEMORY_LIMIT": "off"})
    kills, dirty = 0, 0
    try:
        for _ in range(runs):
            before = false_stops.oom_kills(server.cgroup_directory)
            subprocess.run(server.inside(["dd", "if=/dev/zero", f"of={server.datadir}/reclaim.bin", "bs=1M", "count=600"]),
                           capture_output=True)
            subprocess.run(server.inside(["rm", "-f", f"{server.datadir}/reclaim.bin"]), capture_output=True)
            if false_stops.oom_kills(server.cgroup_directory) > before:
                kills += 1
                dirty = max(dirty, dmesg_report().get("total_dirty", 0))
                server.wait_ready()
            time.sleep(1)
    finally:
        server.close()
    log(f"reclaim docker, 600 MB dd: {kills}/{runs} OOM-killed")
    return kills, runs, dirty


def cell(trials, **match):
    chosen = [t for t in trials if all(t.get(key) == str(value) for key, value in match.items())]
    killed = [t for t in chosen if int(t["killed"]) > 0]
    return chosen, killed


def mib(value):
    return f"{int(value) / MIB:.1f} MiB"


def run(options):
    runs = 2 if options.quick else 5
    rows = []
    host = host_trials(runs * 2, options.log)
    for level, (kills, total, left, pending) in host.items():
        rows.append(["host (6.18), v1", "2 writers, fast disk", f"{level} MiB", f"{kills}/{total}",
                     f"{mib(left)} of cache, {mib(pending)} of it dirty or under writeback" if kills else "–"])
    kills, total, dirty = docker_trials(options, runs * 4)
    rows.append(["host (6.18), v1, Docker", "600 MB dd into the datadir (idle MariaDB)", "≈ 150 MiB (MariaDB)",
                 f"{kills}/{total}", f"{mib(dirty)} dirty" if kills else "–"])
    for version in ("v1", "v2"):
        trials = vm_trials(version, runs, options.log)
        for disk, label in (("slow", "2 writers, disk at 20 MB/s"), ("fast", "2 writers, unthrottled disk")):
            for level in VM_LEVELS:
                chosen, killed = cell(trials, kind="writer", disk=disk, level_mib=level)
                left = max((int(t.get("writeback_at_kill", 0)) + int(t.get("dirty_at_kill", 0)) for t in killed), default=0)
                rows.append([f"VM (6.1), {version}", label, f"{level} MiB", f"{len(killed)}/{len(chosen)}",
                             f"{mib(left)} dirty or under writeback" if killed else "–"])
        chosen, killed = cell(trials, kind="slab")
        left = max((int(t.get("slab_reclaimable_at_kill", 0)) for t in killed), default=0)
        rows.append([f"VM (6.1), {version}", "200,000 files created", "200 MiB", f"{len(killed)}/{len(chosen)}",
                     f"{mib(left)} of slab_reclaimable" if killed and version == "v2" else "–"])
    return {
        "title": "7. What the kernel cannot take back in time: kernel OOM kills with no guard",
        "header": ["kernel, cgroup", "what fills the rest", "anonymous memory held", "kernel OOM kills / trials",
                   "left at the kill (largest)"],
        "rows": rows,
        "goal": "the facts Lifeguard's figure is built on (no goal: what the kernel does)",
        "met": True,
        "notes": ["256 MiB cgroups, no guard. A kill with page cache left is a kill the kernel could not avoid by "
                  "reclaiming: that part of the cache counts as unreclaimable. What Lifeguard concludes "
                  "(MemoryReading): clean cache never counts; on v2 dirty and writeback pages count (v2 reclaim "
                  "does not wait for writeback; the kernel's per-cgroup dirty limit keeps them to a fifth of what "
                  "anonymous memory leaves); on v1 they do not (v1 reclaim waits for writeback; there is no "
                  "per-cgroup dirty limit, so counting them would stop every dump); kernel memory counts whole, "
                  "reclaimable slab included."],
    }
