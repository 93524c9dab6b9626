"""Item 1: binary size, and RSS / RssAnon of each init supervising an idle `sleep`, as PID 1 of a new
PID namespace and not, inside a 256 MiB memory cgroup (so Lifeguard's memory guard is on)."""
import os
import subprocess
import tempfile
import time

import shared_binary
from common import DUMB_INIT, LIFEGUARD, MIB, TINI, Cgroup, children_of, kill_with_children, kilobytes, proc_status, wait_until

SETTLE_SECONDS = 7  # Lifeguard drops its start-up pages 5 s after starting (Footprint.settle)


def contenders(status_directory):
    status = ["env", f"LIFEGUARD_STATUS_FILE={status_directory}/status.json"]
    return [
        ("lifeguard", status + ["LIFEGUARD_READY_ADDRESS=none", LIFEGUARD, "--"],
         "readiness by notify only"),
        ("lifeguard, waiting", status + [LIFEGUARD, "--"],
         "also checking a server socket that never appears"),
        ("tini-static", [TINI, "--"], ""),
        ("dumb-init", [DUMB_INIT, "--"], "dynamic, plus libc"),
    ]


def measure_once(cgroup, command, as_pid1):
    child = ["sleep", "1000"]
    wrapped = (["unshare", "--pid", "--fork", "--mount-proc"] if as_pid1 else []) + command + child
    process = subprocess.Popen(cgroup.enter_command(wrapped), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        init = process.pid
        if as_pid1:
            wait_until(lambda: children_of(process.pid), 5)
            init = children_of(process.pid)[0]
        time.sleep(SETTLE_SECONDS)
        status = proc_status(init)
        return kilobytes(status["VmRSS"]), kilobytes(status["RssAnon"])
    finally:
        kill_with_children(process)


def run(options):
    cgroup = Cgroup("footprint", 256 * MIB)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            for name, command, note in contenders(directory):
                binary = next(part for part in command if part.startswith("/"))
                # One warm-up run: right after a build the binary's page cache is dirty and the
                # first run maps more of it (fault-around works on clean cached pages only).
                measure_once(cgroup, command, False)
                figures = [measure_once(cgroup, command, pid1) for pid1 in (False, True)]
                rows.append([name, f"{os.path.getsize(binary) / 1e6:.2f} MB",
                             f"{figures[0][0]} kB", f"{figures[0][1]} kB",
                             f"{figures[1][0]} kB", f"{figures[1][1]} kB", note])
                options.log(f"footprint {name}: {figures}")
    finally:
        cgroup.close()
    def within(row):
        return (all(int(row[column].split()[0]) <= 2560 for column in (2, 4))
                and all(int(row[column].split()[0]) <= 512 for column in (3, 5))
                and float(row[1].split()[0]) <= 8.0)
    return [{
        "title": "1. Footprint: an idle child (sleep), 256 MiB memory cgroup",
        "header": ["init", "binary", "RSS", "RssAnon", "RSS as PID 1", "RssAnon as PID 1", "note"],
        "rows": rows,
        "goal": "Lifeguard RSS ≤ 2.5 MB, RssAnon ≤ 512 KB, binary ≤ 8 MB",
        "met": within(rows[0]) and within(rows[1]),
        "notes": [f"Figures read {SETTLE_SECONDS} s after start, after one warm-up run. RSS counts the binary's pages "
                  "mapped from the page cache, which every container on a host running the same image shares "
                  "(section 1b: what that means with many containers)."],
    }, many_containers(options)]


def many_containers(options):
    """Section 1b: N containers of one image, Lifeguard next to tini (bench/shared_binary.py)."""
    containers = 8 if options.quick else 20
    figures = [shared_binary.run_variant("lifeguard", LIFEGUARD, containers, 0.5),
               shared_binary.run_variant("tini-static", TINI, containers, 0.5, arguments=[])]
    rows = [[f["label"], f"{f['usage_mean_kib']} KiB", f"{f['cache_first_kib']} KiB", f"{f['rss_mean_kib']} kB",
             f"{f['rss_anon_mean_kib']} kB", f"{f['binary_resident_kib']} KiB", f["major_faults_total"], f["major_faults_steady"]]
            for f in figures]
    options.log(f"footprint, {containers} containers: {figures}")
    own = figures[0]["usage_mean_kib"] - figures[1]["usage_mean_kib"]
    return {
        "title": f"1b. Footprint with many containers: {containers} containers of one image, each supervising sleep",
        "header": ["init", "charged to each container (mean)", "page cache charged to the first", "RSS (mean)",
                   "RssAnon (mean)", "binary in the host's page cache", "major faults, all starts", "major faults, 10 s settled"],
        "rows": rows,
        "goal": "what Lifeguard adds to a container's charge, over tini's, ≤ 1 MiB",
        "met": own <= 1024,
        "notes": [f"Lifeguard adds {own} KiB per container over tini. Each container is its own 256 MiB v1 cgroup with the "
                  "init as PID 1 of a new PID namespace, started 0.5 s apart from one fresh copy of the binary (one inode, "
                  "as one image layer is), figures read 10 s after the last has settled. \"Charged\" is the cgroup's "
                  "usage: what counts against its limit (the init, sleep, their kernel memory, page cache charged to it). "
                  "RSS counts every page an init maps, shared ones included: MADV_PAGEOUT at settle only drops pages no "
                  "other process maps, so with many containers each Lifeguard's RSS stays near what start-up touched, "
                  "while the host holds one copy. The executable's cached pages nobody maps are dropped at settle "
                  "(POSIX_FADV_DONTNEED); measured on 2026-12-02 with bench/shared_binary.py against a build without "
                  "that call, 20 containers, mean of 2 rounds: the first container was charged 6 KiB of the binary's "
                  "cache instead of 3896 KiB, the 20 cgroups 23.2 MB instead of 27.1 MB, the host kept 3.1 MB of the "
                  "binary cached instead of 7.0 MB, for 22 major faults over the 20 starts instead of 7 (none once "
                  "settled, either way): it helps, so it stays."],
    }
