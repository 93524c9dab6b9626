"""Item 4, with a real database: MariaDB in a 256 MiB v1 cgroup grows its memory by three workloads
of different speed, under Lifeguard (as in a container: PID 1, cgroupfs read-only) and under no guard.
Counted: kernel OOM kills / runs, and clean InnoDB shutdowns."""
import os
import signal
import subprocess
import threading
import time

from common import LIFEGUARD, MIB, Cgroup, MariaDB, percentile, stop, wait_until
from race import container, stop_container

LIMIT = 256 * MIB
SETUP = """
create database t;
use t;
create table t.seed (x varchar(1000)) engine=innodb;
insert into t.seed values (repeat('x', 1000));
"""
# Each client doubles its own MEMORY table ({n}: the client's number).
DOUBLING = ("create table if not exists t.m{n} (x varchar(1000)) engine=memory; use t; insert into t.m{n} select * from t.seed;"
            + " insert into t.m{n} select * from t.m{n};" * 30)
# (label, clients, SQL per client, whether a writer keeps the page cache full of dirty pages)
WORKLOADS = [("MEMORY table doubling, 1 client", 1, DOUBLING, False), ("MEMORY table doubling, 2 clients", 2, DOUBLING, False),
             ("MEMORY table doubling, 4 clients", 4, DOUBLING, False),
             ("MEMORY table doubling, 1 client, a writer filling the cache", 1, DOUBLING, True),
             ("MEMORY table doubling, 4 clients, a writer filling the cache", 4, DOUBLING, True)]


def start_writer(cgroup, directory):
    """A process of the container that rewrites a 512 MiB file in the datadir's directory without end:
    the page cache stays full of dirty pages through the race."""
    loop = f'while :; do dd if=/dev/zero of="{directory}/writer.bin" bs=1M count=512 conv=notrunc 2>/dev/null; done'
    writer = subprocess.Popen(cgroup.enter_command(["sh", "-c", loop]), start_new_session=True)
    wait_until(lambda: cgroup.usage() >= int(LIMIT * 0.9), 10)
    return writer
GUARDS = ["lifeguard, container", "no guard"]


def prepare():
    """A data directory with the tables the workloads read, made once and copied for each guard."""
    server = MariaDB("race-seed")
    process = subprocess.Popen(server.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.wait_ready():
            raise SystemExit(f"bench: MariaDB did not start; see {server.log}")
        result = server.query(SETUP)
        if result.returncode != 0:
            raise SystemExit(f"bench: setup failed: {result.stderr}")
    finally:
        stop(process)
    return server


def sample_growth(cgroup, until, samples):
    while not until.is_set():
        try:
            samples.append((time.monotonic(), cgroup.unreclaimable()))
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.005)


def growth_rate(samples):
    """Mean growth from the first sample above half the limit to the highest one, bytes per second."""
    start = next((sample for sample in samples if sample[1] >= LIMIT // 2), None)
    peak = max(samples, key=lambda sample: sample[1], default=None)
    if start is None or peak is None or peak[0] <= start[0]:
        return None
    return (peak[1] - start[1]) / (peak[0] - start[0])


def one_run(guard, server, workload, cgroup):
    """Returns (OOM-killed, clean shutdowns in the log, growth rate, whether the server stopped)."""
    _, clients, sql, with_writer = workload
    kills, clean = cgroup.oom_kills(), server.log_count("mariadbd: Shutdown complete")
    os.makedirs(f"{server.directory}/status", exist_ok=True)
    if guard.startswith("lifeguard"):
        command = container(cgroup, ["env", f"LIFEGUARD_STATUS_FILE={server.directory}/status/status.json", LIFEGUARD,
                                     "--on-memory-limit", "exit", "--"] + server.command())
    else:
        command = cgroup.enter_command(server.command())
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not server.wait_ready(120):
        (stop_container if guard.startswith("lifeguard") else stop)(process)
        raise SystemExit(f"bench: MariaDB under {guard} did not start; see {server.log}")
    writer = start_writer(cgroup, server.directory) if with_writer else None
    samples, done = [], threading.Event()
    sampler = threading.Thread(target=sample_growth, args=(cgroup, done, samples))
    sampler.start()
    load = [subprocess.Popen(["mariadb", "-S", server.socket, "-uroot", "-e", sql.format(n=client)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for client in range(clients)]
    try:
        # The run ends when the server stops (the guard, or the kernel) or, should the workload finish
        # without reaching the limit, when every client is done.
        wait_until(lambda: process.poll() is not None or all(client.poll() is not None for client in load), 180, 0.05)
        # The clients fail as soon as a stop begins: give a stop in progress time to finish.
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    finally:
        stopped = process.poll() is not None
        done.set()
        sampler.join()
        for client in load:
            client.kill()
            client.wait()
        if writer is not None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait()
            os.unlink(f"{server.directory}/writer.bin")
        (stop_container if guard.startswith("lifeguard") else stop)(process)
    return (cgroup.oom_kills() > kills, server.log_count("mariadbd: Shutdown complete") - clean, growth_rate(samples),
            stopped)


def run(options):
    runs = max(2, options.runs // 4)
    seed = prepare()
    cgroup = Cgroup("mariadb-race", LIMIT, soft_limit=int(LIMIT * 0.95))
    rows, servers = [], {}
    kills_by_guard = {guard: 0 for guard in GUARDS}
    try:
        servers = {guard: MariaDB("race", template=seed) for guard in GUARDS}
        for workload in WORKLOADS:
            row = [workload[0]]
            rates = []
            for guard in GUARDS:
                outcomes = [one_run(guard, servers[guard], workload, cgroup) for _ in range(runs)]
                killed = sum(outcome[0] for outcome in outcomes)
                kills_by_guard[guard] += killed
                rates += [outcome[2] for outcome in outcomes if outcome[2]]
                unstopped = sum(not outcome[3] for outcome in outcomes)
                row.append(f"{killed}/{runs} (clean shutdowns {sum(outcome[1] for outcome in outcomes)}"
                           + (f", not stopped {unstopped}" if unstopped else "") + ")")
                options.log(f"mariadb race {workload[0]} {guard}: {killed}/{runs} OOM-killed")
            median = percentile(rates, 0.5)
            row.insert(1, f"{median / 1e6:.0f} MB/s" if median else "?")
            rows.append(row)
    finally:
        cgroup.close()
        for server in list(servers.values()) + [seed]:
            server.remove()
    return {
        "title": "4b. The race with MariaDB: kernel OOM kills / runs (256 MiB hard limit)",
        "header": ["workload", "growth above half the limit (median)"] + GUARDS,
        "rows": rows,
        "goal": "Lifeguard: zero kernel OOM kills",
        "met": kills_by_guard[GUARDS[0]] == 0,
        "notes": ["MariaDB 10.11, buffer pool 64 MiB, max_heap_table_size 1G; Lifeguard with "
                  "LIFEGUARD_ON_MEMORY_LIMIT=exit so that each run ends at the stop. A clean shutdown is the error "
                  "log's \"Shutdown complete\". \"A writer filling the cache\": a process of the container rewrites a "
                  "512 MiB file next to the datadir from when the server is ready until the run ends, so the page cache "
                  "is full of dirty pages and every byte the server takes must first be written back and reclaimed."],
    }
