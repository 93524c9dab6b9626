#!/usr/bin/env python3
"""Many containers, one binary: what N inits cost when they run from the same file, as every container
of one image does (the layer's file is one inode, one page cache). Used by the footprint section
(bench/footprint.py: Lifeguard next to tini), and on its own to compare two builds, such as one without
the executable's page-cache drop at settle (Footprint.settle):

    sudo bench/shared_binary.py with=.build/static/lifeguard without=/tmp/lifeguard-no-drop

For each init, side by side: a fresh copy of its binary (out of the page cache, as on a host that has
not run it yet), then N "containers" started one after the other (each its own 256 MiB v1 cgroup, the
init as PID 1 of a new PID namespace supervising `sleep`), then, once all have settled, the memory
charged to each cgroup (usage, and the page cache part of it), each init's RSS (which counts the pages
it shares with the others) and major faults (pages read from disk), and how much of the binary stays
in the host's page cache.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import MIB, Cgroup, children_of, kill_with_children, kilobytes, proc_status, wait_until  # noqa: E402

SETTLE_SECONDS = 7


def resident_kib(path):
    """The file's pages in the host's page cache, in KiB (util-linux fincore)."""
    result = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path], capture_output=True, text=True)
    return int(result.stdout.strip() or 0) // 1024


def major_faults(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[9])  # field 12 of /proc/PID/stat (majflt), counted after the ")"


def run_variant(label, binary, containers, gap, arguments=None):
    """`arguments`: what goes between the binary and `-- sleep` (default: Lifeguard's environment)."""
    directory = f"/var/tmp/lifeguard-shared-{os.getpid()}"
    os.makedirs(directory, exist_ok=True)
    copy = os.path.join(directory, "lifeguard")
    shutil.copy(binary, copy)
    os.chmod(copy, 0o755)
    with open(copy, "rb") as handle:
        os.fsync(handle.fileno())
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    cgroups, processes, inits = [], [], []
    try:
        for index in range(containers):
            cgroup = Cgroup(f"shared-{os.getpid()}-{index}", 256 * MIB)
            cgroups.append(cgroup)
            if arguments is None:
                command = ["env", f"LIFEGUARD_STATUS_FILE={directory}/s{index}/status.json", "LIFEGUARD_READY_ADDRESS=none", copy]
            else:
                command = [copy] + arguments
            command = ["unshare", "--pid", "--fork", "--mount-proc"] + command + ["--", "sleep", "1000"]
            process = subprocess.Popen(cgroup.enter_command(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(process)
            wait_until(lambda: children_of(process.pid), 5)
            inits.append(children_of(process.pid)[0])
            time.sleep(gap)
        time.sleep(SETTLE_SECONDS)
        faults_settled = [major_faults(pid) for pid in inits]
        time.sleep(10)  # the steady state: refaults of dropped pages show here
        usage = [cgroup.usage() for cgroup in cgroups]
        cache = [cgroup.file_cache() for cgroup in cgroups]
        rss = [kilobytes(proc_status(pid)["VmRSS"]) for pid in inits]
        anon = [kilobytes(proc_status(pid)["RssAnon"]) for pid in inits]
        faults = [major_faults(pid) for pid in inits]
        steady = [after - before for after, before in zip(faults, faults_settled)]
        return {
            "label": label, "usage_total_kib": sum(usage) // 1024, "cache_total_kib": sum(cache) // 1024,
            "cache_first_kib": cache[0] // 1024, "cache_others_max_kib": max(cache[1:], default=0) // 1024,
            "usage_mean_kib": sum(usage) // len(usage) // 1024, "rss_mean_kib": sum(rss) // len(rss),
            "rss_anon_mean_kib": sum(anon) // len(anon), "major_faults_total": sum(faults), "major_faults_steady": sum(steady),
            "binary_resident_kib": resident_kib(copy),
        }
    finally:
        for process in processes:
            kill_with_children(process)
        for cgroup in cgroups:
            cgroup.close()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between two container starts")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per binary")
    parser.add_argument("binaries", nargs="+", metavar="LABEL=BINARY")
    options = parser.parse_args()
    variants = [item.split("=", 1) for item in options.binaries]
    results = []
    for _ in range(options.rounds):
        for label, binary in variants:
            result = run_variant(label, binary, options.containers, options.gap)
            print(result, flush=True)
            results.append(result)
    for label, _ in variants:
        mine = [r for r in results if r["label"] == label]
        keys = [key for key in mine[0] if key != "label"]
        print(label, {key: sum(r[key] for r in mine) // len(mine) for key in keys})


if __name__ == "__main__":
    main()
