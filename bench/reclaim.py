"""Section 7: what the kernel cannot take back in time, with no guard at all. The question behind the
figure Lifeguard decides on (MemoryReading.unreclaimable): the kernel reclaims clean page cache before
it kills anything, but dirty pages must be written back first, pages under writeback cannot be taken
until the write ends, and "reclaimable" slab may not be. Each trial holds anonymous memory at a level
in a cgroup while something fills the rest, and counts the kernel's OOM kills; at a kill, the kernel's
own report says which allocation invoked it and how much file cache (dirty, under writeback) it left.

- host (this machine's v1 controller, a fast disk): one writer rewriting a file, or two writers
  extending files, then a process (the hog, two threads) that grows to a level and holds it still, in
  256 MiB and 1 GiB cgroups; and the same next to two writers under Lifeguard, which counts dirty
  pages above 85 % of the limit on v1;
- VM (Debian's 6.1 kernel under qemu, v1 and v2; scripts/vm/reclaim-question.sh): the same on a disk
  throttled to 20 MB/s and on an unthrottled one, and files created next to 200 MiB (slab);
- Docker (the image, guard off): 600 MB written into the datadir of an idle MariaDB, again and again."""
import os
import re
import subprocess
import tempfile
import time

from common import HELPER, LIFEGUARD, MIB, ROOT, Cgroup

# (cgroup limit in MiB, writers, "extend" or "rewrite", levels held in MiB, under Lifeguard)
HOST_CASES = [
    (256, 1, "rewrite", [224, 232, 240, 246], False),
    (256, 2, "extend", [208, 216, 224, 232, 240, 246], False),
    (1024, 2, "extend", [860, 900, 940, 975], False),
    (256, 2, "extend", [225], True),
]
VM_LEVELS = [230, 236, 240]
HOLD_SECONDS = 6


def dmesg_report():
    """The memory figures of the kernel's last OOM report ({key: bytes}), and what invoked it."""
    text = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    start = text.rfind("Memory cgroup stats for")
    figures = {}
    for line in text[start:].splitlines()[1:60] if start >= 0 else []:
        words = line.split("]", 1)[-1].split()
        if len(words) == 2 and words[1].isdigit():
            figures.setdefault(words[0], int(words[1]))
    invoked = re.findall(r"\] (\S+) invoked oom-killer: gfp_mask=\S+\(([^)]*)\)", text)
    if invoked:
        command, flags = invoked[-1]
        figures["invoked_by"] = f"{command} ({'GFP_NOFS' if 'GFP_NOFS' in flags else flags.split('|')[0]})"
    return figures


def writers(cgroup, directory, count, kind, trial):
    if kind == "rewrite":
        loop = f'while :; do dd if=/dev/zero of="{directory}/w{trial}" bs=1M count=512 conv=notrunc 2>/dev/null; done'
        commands = [["sh", "-c", loop]]
    else:
        commands = [["dd", "if=/dev/zero", f"of={directory}/w{trial}-{n}", "bs=1M", "count=100000"] for n in range(count)]
    return [subprocess.Popen(cgroup.enter_command(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True) for command in commands]


def host_trial(directory, trial, limit_mib, count, kind, level, guarded):
    """One trial: (killed, stopped by Lifeguard, the kernel's report at a kill or None)."""
    subprocess.run(["dmesg", "-C"], check=False)
    cgroup = Cgroup(f"reclaim-{os.getpid()}", limit_mib * MIB)
    processes = []
    try:
        processes = writers(cgroup, directory, count, kind, trial)
        time.sleep(3)
        hog = [HELPER, "hog", "max", "--threads", "2", "--stop-at", str(level)]
        if guarded:
            hog = ["env", f"LIFEGUARD_STATUS_FILE={directory}/status.json", "LIFEGUARD_READY_ADDRESS=none", LIFEGUARD,
                   "--on-memory-limit", "exit", "--grace-period", "5", "--"] + hog
        log = os.path.join(directory, "lifeguard.log")
        with open(log, "w") as output:
            guard = subprocess.Popen(cgroup.enter_command(hog), stdout=subprocess.DEVNULL, stderr=output, start_new_session=True)
        time.sleep(HOLD_SECONDS)
        killed = cgroup.oom_kills() > 0
        stopped = guarded and "memory limit reached" in open(log).read()
        report = dmesg_report() if killed else None
        for process in processes + [guard]:
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
            process.wait()
        return killed, stopped, report
    finally:
        cgroup.close()
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))


def host_trials(runs, log):
    """One row per (case, level): kills, stops, the largest cache left at a kill and what invoked it."""
    rows = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
        for limit_mib, count, kind, levels, guarded in HOST_CASES:
            for level in levels:
                outcomes = [host_trial(directory, trial, limit_mib, count, kind, level, guarded) for trial in range(runs)]
                kills = sum(killed for killed, _, _ in outcomes)
                reports = [report for _, _, report in outcomes if report]
                left = max((r.get("total_cache", 0) for r in reports), default=0)
                pending = max((r.get("total_dirty", 0) + r.get("total_writeback", 0) for r in reports), default=0)
                invoked = sorted({r["invoked_by"] for r in reports if "invoked_by" in r})
                what = ("1 writer rewriting a file" if kind == "rewrite" else f"{count} writers extending files")
                what += f", {limit_mib} MiB cgroup" + (", under Lifeguard" if guarded else "")
                held = f"{level} MiB ({level * 100 // limit_mib} %)"
                detail = "–"
                if reports:
                    detail = (f"invoked by {', '.join(invoked) or '?'}; {mib(left)} of cache, "
                              f"{mib(pending)} of it dirty or under writeback")
                if guarded:
                    stops = sum(stopped for _, stopped, _ in outcomes)
                    detail = f"Lifeguard stopped it in {stops}/{runs}" + ("" if not reports else f"; {detail}")
                rows.append(["host (6.18), v1", what, held, f"{kills}/{runs}", detail])
                log(f"reclaim host, {what}, {held}: {kills}/{runs} OOM-killed")
    return rows


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
    rows = host_trials(runs * 2, options.log)
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
        "title": "7. What the kernel cannot take back in time: kernel OOM kills with no guard (and one row under Lifeguard)",
        "header": ["kernel, cgroup", "what fills the rest", "anonymous memory held", "kernel OOM kills / trials",
                   "left at the kill (largest)"],
        "rows": rows,
        "goal": "the facts Lifeguard's figure is built on (no goal: what the kernel does)",
        "met": True,
        "notes": ["No guard unless the row says so; 256 MiB cgroups unless it says 1 GiB. On the host each trial starts "
                  "the writers, waits 3 s, then a two-thread hog grows to the level at full speed and holds it still "
                  f"for {HOLD_SECONDS} s. A kill with page cache left is a kill the kernel could not avoid by "
                  "reclaiming: that part of the cache counts as unreclaimable. \"Invoked by\" is the allocation that "
                  "found nothing to reclaim (the kernel's report): GFP_NOFS is the filesystem's own (ext4 buffer heads "
                  "for the writer's pages), which may not wait for writeback. What Lifeguard concludes (MemoryReading): "
                  "clean cache never counts; on v2 dirty and writeback pages count (v2 reclaim does not wait for "
                  "writeback; the kernel's per-cgroup dirty limit keeps them to a fifth of what anonymous memory "
                  "leaves); on v1, which has no per-cgroup dirty limit (a writer keeps nearly all the cache dirty), "
                  "they count only above 85 % of the limit, where two writers made the kernel kill a still process "
                  "(in 256 MiB and 1 GiB alike), so a dump next to a database below that never stops it; kernel "
                  "memory counts whole, reclaimable slab included."],
    }
