"""Item 5: what one health probe costs. A MariaDB server runs under Lifeguard; each contender is started
by bench/tools/spawn-timer (posix_spawn → wait4, so no Python fork in the figures), in interleaved
rounds so that a noisy moment hits every contender alike. Wall time from spawn to reaped, and the
probe's own CPU time (user + system, from wait4)."""
import subprocess
import tempfile

from common import LIFEGUARD, SPAWN_TIMER, MariaDB, children_of, cpu_seconds, percentile, stop


def contenders(server, status_file):
    return [
        ("/bin/true (the floor: starting any process)", ["/bin/true"]),
        ("lifeguard probe --ready", [LIFEGUARD, "probe", "--ready", "--status-file", status_file]),
        ("lifeguard probe --live", [LIFEGUARD, "probe", "--live", "--status-file", status_file]),
        ("mysqladmin ping", ["mysqladmin", "-S", server.socket, "-uroot", "ping"]),
        ("mariadb -e 'select 1'", ["mariadb", "-S", server.socket, "-uroot", "-e", "select 1"]),
    ]


def timed(command, calls):
    """[(wall ms, cpu ms, exit status)] for `calls` sequential runs."""
    result = subprocess.run([SPAWN_TIMER, str(calls)] + command, capture_output=True, text=True, check=True)
    rows = []
    for line in result.stdout.splitlines():
        wall_ns, user_us, system_us, status = (int(field) for field in line.split())
        rows.append((wall_ns / 1e6, (user_us + system_us) / 1000, status))
    return rows


def run(options):
    rounds, calls = (5, 20) if options.quick else (20, 50)
    server = MariaDB("probe")
    with tempfile.TemporaryDirectory() as directory:
        status_file = f"{directory}/status.json"
        process = subprocess.Popen([LIFEGUARD, "--status-file", status_file, "--"] + server.command(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not server.wait_ready():
                raise SystemExit(f"bench: MariaDB did not start; see {server.log}")
            chosen = contenders(server, status_file)
            if subprocess.run(chosen[1][1], capture_output=True).returncode != 0:
                raise SystemExit("bench: lifeguard probe --ready fails against a ready server")
            mariadbd = children_of(process.pid)[0]
            samples = {name: [] for name, _ in chosen}
            server_cpu = {name: 0.0 for name, _ in chosen}
            for _ in range(rounds):
                for name, command in chosen:
                    before = cpu_seconds(mariadbd)
                    samples[name] += timed(command, calls)
                    server_cpu[name] += cpu_seconds(mariadbd) - before
        finally:
            stop(process)
            server.remove()
    floor = percentile([wall for wall, _, _ in samples[chosen[0][0]]], 0.5)
    ping = percentile([wall for wall, _, _ in samples["mysqladmin ping"]], 0.5)
    rows = []
    for name, _ in chosen:
        walls = [wall for wall, _, _ in samples[name]]
        cpus = [cpu for _, cpu, _ in samples[name]]
        failures = sum(status != 0 for _, _, status in samples[name])
        p50 = percentile(walls, 0.5)
        rows.append([name, len(walls), f"{p50:.2f} ms", f"{percentile(walls, 0.99):.2f} ms",
                     f"{sum(cpus) / len(cpus):.2f} ms",
                     f"{server_cpu[name] / len(walls) * 1000:.3f} ms", f"{p50 / floor:.2f}×", f"{ping / p50:.1f}×", failures])
        options.log(f"probe {name}: p50 {p50:.2f} ms, failures {failures}")
    ready = rows[1]
    ready_p50 = float(ready[2].split()[0])
    return {
        "title": "5. Probe cost: one call, against the same ready MariaDB",
        "header": ["probe", "calls", "wall p50", "wall p99", "CPU per call", "server CPU per call", "p50 / /bin/true", "mysqladmin ping p50 / p50",
                   "failed calls"],
        "rows": rows,
        "goal": "lifeguard probe --ready within 1.5× of /bin/true, so ≥ 4× cheaper than mysqladmin ping",
        "met": ready_p50 <= 1.5 * floor and ping / ready_p50 >= 4 and ready[8] == 0,
        "notes": [f"{rounds} interleaved rounds of {calls} calls per contender. CPU is the probe process's own user + "
                  "system time (wait4's rusage); server CPU is mariadbd's run time during each batch, per call (its idle "
                  "background threads included, so the floor shows what the server spends anyway). The database probes "
                  "cost the server a connection and a thread each time; the Lifeguard probe reads one file."],
    }
