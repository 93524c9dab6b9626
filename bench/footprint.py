"""Item 1: binary size, and RSS / RssAnon of each init supervising an idle `sleep`, as PID 1 of a new
PID namespace and not, inside a 256 MiB memory cgroup (so Lifeguard's memory guard is on)."""
import os
import subprocess
import tempfile
import time

from common import DUMB_INIT, LIFEGUARD, MIB, TINI, Cgroup, children_of, kilobytes, proc_status, wait_until

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
        for pid in [process.pid] + children_of(process.pid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        process.wait()


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
    return {
        "title": "1. Footprint: an idle child (sleep), 256 MiB memory cgroup",
        "header": ["init", "binary", "RSS", "RssAnon", "RSS as PID 1", "RssAnon as PID 1", "note"],
        "rows": rows,
        "goal": "Lifeguard RSS ≤ 2.5 MB, RssAnon ≤ 512 KB, binary ≤ 8 MB",
        "met": within(rows[0]) and within(rows[1]),
        "notes": [f"Figures read {SETTLE_SECONDS} s after start, after one warm-up run. RSS counts the binary's pages "
                  "mapped from the page cache, which every container on a host running the same image shares."],
    }
