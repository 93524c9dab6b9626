"""False stops: workloads that fill a 256 MiB container's page cache while the memory the kernel cannot
reclaim stays far from the offer. None of them can be OOM-killed, so a guard that stops one stops a
healthy database. Each runs against real MariaDB under Lifeguard, with the article's numbers, on this
host's v1 cgroup (as in a container: PID 1, cgroupfs read-only) or in the image on the Docker engine,
while a client runs a query every 100 ms on one connection that must never be lost.

Used by `scripts/false-stops` (the tests run it with --check) and by the benchmark harness (section 8,
the workloads before and after a change, side by side)."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

from common import LIFEGUARD, MIB, Cgroup, MariaDB, wait_until
from race import container, stop_container

LIMIT = 268_435_456           # docker run --memory 268435456
SOFT_LIMIT = 255_013_684      # --memory-reservation 255013684
TRIGGER = 255_652_815         # the offer: LIMIT ÷ 1.05
DOCKER = "/usr/bin/docker"
ARTICLE = ["--memory", str(LIMIT), "--memory-reservation", str(SOFT_LIMIT), "--stop-timeout", "75"]
SEED = ("create database if not exists t; use t;"
        " create table kept (id int primary key, v char(100)) engine=innodb;"
        " insert into kept select seq, repeat('k', 100) from seq_1_to_20000;"
        " create table big (id int primary key, a int, b int, v char(200)) engine=innodb;"
        " insert into big select seq, seq % 1000, (seq * 7) % 1000, repeat('v', 200) from seq_1_to_200000;")
WATCH_QUERY = "select count(*) from t.kept;\n"
BULK_ROWS = 100_000
BULK_STATEMENTS = 13  # 1.3 M rows, about 300 MB of binary log and more than the limit on disk

# (name, what it is, whether the server runs with --log-bin). The binlog workloads share one server:
# the bulk inserts make the database the dump then writes out.
WORKLOADS = [
    ("write", "600 MB written into the datadir (dd)", False),
    ("read", "a 400 MB file in the datadir read three times", False),
    ("sorts", "8 sorts spilling to temporary files (sort_buffer_size 4M)", False),
    ("binlog", f"--log-bin, {BULK_STATEMENTS} × INSERT … SELECT of {BULK_ROWS:,} rows", True),
    ("dump", "mariadb-dump of that database (more than the limit) into the datadir", True),
]


class Watcher:
    """One client connection, one query every 100 ms, from start to close: `lost` says whether the
    server ever dropped it (--skip-reconnect: a lost connection ends the client)."""

    def __init__(self, client):
        self.process = subprocess.Popen(client + ["--skip-reconnect", "--unbuffered", "-N", "-B"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.answers = 0
        self.done = threading.Event()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.writer = threading.Thread(target=self.write, daemon=True)
        self.reader.start()
        self.writer.start()

    def read(self):
        for _ in self.process.stdout:
            self.answers += 1

    def write(self):
        while not self.done.is_set() and self.process.poll() is None:
            try:
                self.process.stdin.write(WATCH_QUERY)
                self.process.stdin.flush()
            except (BrokenPipeError, OSError):
                return
            time.sleep(0.1)

    def close(self):
        """(answers, error text or None)."""
        self.done.set()
        self.writer.join()
        lost = self.process.poll() is not None
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join()
        error = self.process.stderr.read().strip()
        return self.answers, (error or "the client exited") if lost or self.process.returncode else None


class Peaks:
    """The cgroup's usage and file cache, sampled every 20 ms while a workload runs."""

    def __init__(self, directory):
        self.directory = directory
        self.usage = self.cache = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while not self.done.is_set():
            try:
                usage = int(open(f"{self.directory}/memory.usage_in_bytes").read())
                stat = dict(line.split() for line in open(f"{self.directory}/memory.stat"))
                self.usage = max(self.usage, usage)
                self.cache = max(self.cache, int(stat["total_inactive_file"]) + int(stat["total_active_file"]))
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.02)

    def close(self):
        self.done.set()
        self.thread.join()


def oom_kills(directory):
    for line in open(f"{directory}/memory.oom_control"):
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


class HostServer:
    """MariaDB under Lifeguard as PID 1 with cgroupfs read-only, in a 256 MiB v1 cgroup of this host."""
    where = "host"

    def __init__(self, binary, binlog):
        self.server = MariaDB("false-stops")
        self.cgroup = Cgroup(f"false-stops-{os.getpid()}", LIMIT, soft_limit=SOFT_LIMIT)
        self.datadir = self.server.datadir
        self.socket = self.server.socket
        self.log_path = f"{self.server.directory}/lifeguard.log"
        extra = ["--log-bin=mysql-bin", "--server-id=1"] if binlog else []
        os.makedirs(f"{self.server.directory}/status", exist_ok=True)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                container(self.cgroup, ["env", f"LIFEGUARD_STATUS_FILE={self.server.directory}/status/status.json",
                                        binary, "--"] + self.server.command(extra)),
                stdout=log, stderr=log)
        if not self.server.wait_ready(120):
            raise SystemExit(f"false-stops: MariaDB did not start; see {self.server.log}")

    @property
    def cgroup_directory(self):
        return self.cgroup.path

    def client(self):
        return ["mariadb", "-S", self.socket, "-uroot"]

    def inside(self, command):
        """COMMAND as a process of the container (its page cache is charged to the container)."""
        return self.cgroup.enter_command(command)

    def outside(self, command):
        return command

    def lifeguard_log(self):
        return open(self.log_path, errors="replace").read()

    def close(self):
        stop_container(self.process)
        self.cgroup.close()
        self.server.remove()


class DockerServer:
    """The image with the article's flags (`--network none`); the host reaches the server through a
    bind-mounted socket directory."""
    where = "docker"

    def __init__(self, image, binlog, environment=None, arguments=()):
        self.directory = tempfile.mkdtemp(prefix="lifeguard-false-stops.", dir="/var/tmp")
        os.chmod(self.directory, 0o755)
        for sub in ("run", "status"):
            os.makedirs(f"{self.directory}/{sub}")
            os.chmod(f"{self.directory}/{sub}", 0o1777)
        self.socket = f"{self.directory}/run/mysqld.sock"
        self.datadir = "/var/lib/mysql"
        self.name = f"lifeguard-false-stops-{os.getpid()}"
        extra = ["--log-bin=mysql-bin", "--server-id=1"] if binlog else []
        settings = [option for key, value in (environment or {}).items() for option in ("-e", f"{key}={value}")]
        result = subprocess.run([DOCKER, "run", "-d", "--name", self.name, "--network", "none"] + ARTICLE + settings
                                + ["-e", "MYSQL_ALLOW_EMPTY_PASSWORD=1", "-e", "MYSQL_INITDB_SKIP_TZINFO=1",
                                   "-v", f"{self.directory}/run:/var/run/mysqld", "-v", f"{self.directory}/status:/run/lifeguard",
                                   image, "mysqld"] + extra + list(arguments), capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"false-stops: docker run failed: {result.stderr}")
        self.wait_ready()
        pid = subprocess.run([DOCKER, "inspect", "-f", "{{.State.Pid}}", self.name], capture_output=True, text=True).stdout.strip()
        line = next(line for line in open(f"/proc/{pid}/cgroup") if ":memory:" in line)
        self.cgroup_directory = "/sys/fs/cgroup/memory" + line.rstrip("\n").split(":", 2)[2]

    def wait_ready(self, timeout=300):
        """Ready by Lifeguard's status: the entrypoint's temporary server answers on the same socket."""
        ready = [LIFEGUARD, "probe", "--ready"]
        environment = dict(os.environ, LIFEGUARD_STATUS_FILE=f"{self.directory}/status/status.json")
        if not wait_until(lambda: subprocess.run(ready, capture_output=True, env=environment).returncode == 0, timeout, 0.2):
            raise SystemExit(f"false-stops: the container's server did not start: {self.lifeguard_log()[-2000:]}")

    def client(self):
        return ["mariadb", "-S", self.socket, "-uroot"]

    def inside(self, command):
        return [DOCKER, "exec", self.name] + command

    def outside(self, command):
        # Only through the container reaches its volume; direct I/O keeps the page cache out.
        return [DOCKER, "exec", self.name] + command

    def lifeguard_log(self):
        result = subprocess.run([DOCKER, "logs", self.name], capture_output=True, text=True)
        return result.stdout + result.stderr

    def oom_killed(self):
        result = subprocess.run([DOCKER, "inspect", "-f", "{{.State.OOMKilled}}", self.name], capture_output=True, text=True)
        return result.stdout.strip() == "true"

    def close(self):
        subprocess.run([DOCKER, "rm", "-f", "-v", self.name], capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def sql(server, statement, timeout=900):
    return subprocess.run(server.client() + ["-N", "-B", "-e", statement], capture_output=True, text=True, timeout=timeout)


def workload(server, name):
    """Runs one workload; returns the error text of its own commands, or None."""
    path = f"{server.datadir}/lifeguard-{name}.bin"
    if name == "write":
        steps = [server.inside(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=600"])]
    elif name == "read":
        steps = [server.outside(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=400", "oflag=direct"])]
        steps += [server.inside(["sh", "-c", f'cat "{path}" > /dev/null'])] * 3
    elif name == "sorts":
        # Each sort (200,000 rows, a 200-character key) is far larger than its buffer, so it spills to
        # temporary files; 8 buffers of 4 MiB keep the workload's anonymous memory small. (8 buffers of
        # 64 MiB are 512 MiB of anonymous memory in a 256 MiB container: a real memory workload, which
        # the guard rightly stopped when the sorts filled their buffers together.)
        sort = "set session sort_buffer_size = 4 * 1024 * 1024; select id, v from t.big order by b desc, v, a"
        clients = [subprocess.Popen(server.client() + ["-e", sort], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for _ in range(8)]
        errors = [client.communicate(timeout=600)[1].strip() for client in clients]
        return next((error for error, client in zip(errors, clients) if client.returncode), None)
    elif name == "binlog":
        statements = "use t; create table t.bulk (id int auto_increment primary key, a int, b int, v varchar(200)) engine=innodb;"
        statements += (f" insert into t.bulk (a, b, v) select seq, seq * 7, repeat('b', 200) from seq_1_to_{BULK_ROWS};"
                       * BULK_STATEMENTS)
        result = sql(server, statements)
        return (result.stderr.strip() or f"exit code {result.returncode}") if result.returncode else None
    elif name == "dump":
        dump = f'mariadb-dump -uroot --single-transaction t > "{server.datadir}/lifeguard-dump.sql"'
        if server.where == "host":
            dump = dump.replace("-uroot", f"-uroot -S {server.socket}")
        steps = [server.inside(["sh", "-c", dump])]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            return f"{' '.join(step[-3:])}: {result.stderr.strip()[-300:]}"
    return None


def cleanup(server, name):
    for path in (f"{server.datadir}/lifeguard-{name}.bin", f"{server.datadir}/lifeguard-dump.sql"):
        subprocess.run(server.inside(["rm", "-f", path]), capture_output=True)


def database_bytes(server):
    """The database's size on disk. InnoDB's figures are statistics, recomputed in the background after
    a bulk insert: ANALYZE makes them current first."""
    sql(server, "analyze table t.kept, t.big, t.bulk")
    result = sql(server, "select sum(data_length + index_length) from information_schema.tables where table_schema = 't'")
    return int(result.stdout.strip() or 0)


def measure(server, name):
    """One workload with the watcher connected; the figures of the run."""
    log_before = server.lifeguard_log().count("memory limit reached")
    sheds_before = server.lifeguard_log().count("shed: killed")
    kills_before = oom_kills(server.cgroup_directory)
    peaks = Peaks(server.cgroup_directory)
    watcher = Watcher(server.client())
    started = time.monotonic()
    error = workload(server, name)
    seconds = time.monotonic() - started
    time.sleep(1)  # a stop the workload caused shows within the status interval
    answers, lost = watcher.close()
    peaks.close()
    lines = server.lifeguard_log().splitlines()
    stop_lines = [line for line in lines if "memory limit reached" in line][log_before:]
    shed_lines = [line for line in lines if "shed: killed" in line][sheds_before:]
    figures = {
        "workload": name, "where": server.where, "seconds": seconds, "stops": len(stop_lines), "stop_lines": stop_lines,
        "shed_kills": len(shed_lines), "shed_lines": shed_lines,
        "oom_kills": oom_kills(server.cgroup_directory) - kills_before, "answers": answers, "lost": lost, "error": error,
        "peak_usage": peaks.usage, "peak_cache": peaks.cache,
    }
    if name == "dump":
        figures["database_bytes"] = database_bytes(server)
    cleanup(server, name)
    return figures


def run_all(where, binary=LIFEGUARD, image=None, names=None, log=print, environment=None):
    """Every chosen workload, on servers of `where` (host: `binary`; docker: `image`, with Lifeguard's
    `environment`: LIFEGUARD_SERVER_ACCOUNT=1 turns the shed on, whose kills count as problems too)."""
    names = names or [name for name, *_ in WORKLOADS]
    results = []
    for binlog in (False, True):
        chosen = [name for name, _, needs in WORKLOADS if needs == binlog and name in names]
        if not chosen:
            continue
        server = HostServer(binary, binlog) if where == "host" else DockerServer(image, binlog, environment)
        try:
            if sql(server, SEED).returncode != 0:
                raise SystemExit("false-stops: the seed failed")
            for name in chosen:
                figures = measure(server, name)
                log(describe(figures))
                results.append(figures)
        finally:
            server.close()
    return results


def describe(figures):
    extra = f" database_bytes={figures['database_bytes']}" if "database_bytes" in figures else ""
    return (f"RESULT workload={figures['workload']} where={figures['where']} stops={figures['stops']} "
            f"oom_kills={figures['oom_kills']} shed_kills={figures.get('shed_kills', 0)} answers={figures['answers']} lost={'yes' if figures['lost'] else 'no'} "
            f"error={'yes' if figures['error'] else 'no'} peak_usage={figures['peak_usage']} peak_cache={figures['peak_cache']}"
            f" seconds={figures['seconds']:.1f}{extra}"
            + (f" lost_detail={figures['lost']!r}" if figures["lost"] else "")
            + (f" error_detail={figures['error']!r}" if figures["error"] else ""))


def problems(figures):
    """What makes a run fail the check: any stop, kill, lost connection or failed command, and a run
    that proves nothing (the cache never reached the trigger, or the dump's database was not larger
    than the limit)."""
    found = []
    if figures["stops"]:
        found.append(f"{figures['stops']} stop(s): " + " | ".join(figures.get("stop_lines", [])))
    if figures["oom_kills"]:
        found.append(f"{figures['oom_kills']} kernel OOM kill(s)")
    if figures.get("shed_kills"):
        found.append(f"{figures['shed_kills']} shed kill(s): " + " | ".join(figures["shed_lines"]))
    if figures["lost"]:
        found.append(f"the client lost its connection: {figures['lost']}")
    if figures["error"]:
        found.append(f"the workload failed: {figures['error']}")
    if figures["answers"] < 5:
        found.append(f"only {figures['answers']} answers")
    if figures["peak_usage"] < TRIGGER:
        found.append(f"usage peaked at {figures['peak_usage']}, below the trigger: the run proves nothing")
    if figures.get("database_bytes", LIMIT + 1) <= LIMIT:
        found.append(f"the database is {figures['database_bytes']} bytes, not more than the limit")
    return found


# The benchmark harness's section: the same workloads under the baseline and the current Lifeguard.
def run(options):
    import images
    baseline = images.baseline(options)
    current = images.current(options)
    rows, results = [], {}
    contenders = [("after", LIFEGUARD, current)]
    if baseline is not None:
        contenders.insert(0, ("before", baseline.binary, baseline.image))
    for where in ("host", "docker"):
        for label, binary, image in contenders:
            for figures in run_all(where, binary=binary, image=image, log=options.log):
                results[figures["workload"], where, label] = figures

    def stops(figures):
        if figures is None:
            return "–"
        return f"{figures['stops']}" + (" (connection lost)" if figures["lost"] else "")

    for name, text, _ in WORKLOADS:
        for where in ("host", "docker"):
            before, after = results.get((name, where, "before")), results[name, where, "after"]
            rows.append([text, where, f"{after['peak_cache'] / MIB:.0f} MiB", stops(before), stops(after),
                         f"{before['oom_kills'] if before else '–'} / {after['oom_kills']}", after["answers"]])
    after_ok = all(not problems(results[name, where, "after"]) for name, *_ in WORKLOADS for where in ("host", "docker"))
    return {
        "title": "8. False stops: page-cache workloads that cannot be OOM-killed, before and after",
        "header": ["workload", "where", "page cache peak (after)",
                   f"stops before ({baseline.label if baseline else 'no baseline: bench/run --baseline REF'})", "stops after",
                   "kernel OOM kills before / after", "client queries answered (after)"],
        "rows": rows,
        "goal": "after: zero stops, zero kernel OOM kills, the client's connection never lost",
        "met": after_ok,
        "notes": ["MariaDB 10.11 with the article's numbers: on the host a 256 MiB v1 cgroup with Lifeguard as PID 1 "
                  "and cgroupfs read-only (buffer pool 64 MiB); in Docker the image built from the tree (buffer pool "
                  "89 MiB, sized by the image), `--memory 268435456 --memory-reservation 255013684`. A client on one "
                  "connection queries every 100 ms throughout each workload (with --skip-reconnect: a stop ends it). "
                  "Each workload is run once per binary; the page cache peak is the cgroup's file cache "
                  "(total_inactive_file + total_active_file) at its highest. Before and after run the same "
                  "workloads on fresh servers, one after the other."],
    }
