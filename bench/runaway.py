"""Runaway query: one session grows the server's memory while sysbench oltp_read_write runs on four
other connections, in the article's 256 MiB container (MariaDB under Lifeguard as PID 1, cgroupfs
read-only, the image's rendered settings). Side by side: no guard (the kernel alone), the memory stop
only (the shed off: Lifeguard before the shed), the graduated response (the shed), and the server's own
limit (max_session_mem_used as rendered). What the other connections see is the figure: restarts,
connections dropped, transactions that failed, the longest time a probe connection waited for an
answer, and for the shed the time from crossing the shed level to being back below it.

Also the cost of the shed's question with hundreds of connections open.

Used by `scripts/runaway` (the tests run it with --check) and by the benchmark harness (section 9)."""
import json
import os
import re
import subprocess
import threading
import time

from common import LIFEGUARD, MIB, ROOT, Cgroup, MariaDB, percentile, wait_until
from false_stops import LIMIT, SOFT_LIMIT, TRIGGER, oom_kills
from race import container, stop_container

try:
    import pymysql
except ImportError:
    raise SystemExit("runaway: needs pymysql (pip install pymysql)")

# The fastest way measured to grow one session's memory: an internal temporary table kept in memory
# (GROUP BY over 3 M rows of 200 bytes), about 270 MB/s of MEMORY_USED on this machine, all of it
# given back to the cgroup within a second of KILL QUERY.
RUNAWAY = ("set session tmp_memory_table_size = 1024 * 1024 * 1024, max_heap_table_size = 1024 * 1024 * 1024;"
           " select count(*) from (select seq, repeat('x', 200) as r from seq_1_to_3000000 group by seq, r) as t")
# Global memory no kill can free: a MEMORY table doubling (the article's case).
MEMORY_TABLE = ("set session max_heap_table_size = 1024 * 1024 * 1024;"
                " create table if not exists t.m (x varchar(1000)) engine=memory; insert into t.m values (repeat('x', 1000));"
                + " insert into t.m select * from t.m;" * 20)
SYSBENCH = ["sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-user=root", "--mysql-db=sbtest",
            "--tables=4", "--table-size=10000"]
LIFTED = ["--max-session-mem-used=9223372036854775807"]

# (label, Lifeguard's options, the server's extra options, what it stands for)
CONTENDERS = [
    ("no guard", ["--memory-limit", "off"], LIFTED, "the kernel alone (Lifeguard as init, guard off)"),
    ("stop only", ["--shed-at", "off"], LIFTED, "the memory stop, no shed (Lifeguard before the shed)"),
    ("graduated", ["--server-account"], LIFTED, "the shed, then the stop"),
    ("server limit", ["--server-account"], [], "max_session_mem_used as rendered (64M), the shed on"),
]


def rendered_config(directory):
    """The image's settings for the article's offer, as the entrypoint renders them."""
    path = os.path.join(directory, "mysqld.cnf")
    subprocess.run([LIFEGUARD, "render-config", "--template", os.path.join(ROOT, "my.cnf.template"), "--output", path,
                    "--offer", str(TRIGGER), "--flavor", "mariadb"], check=True, capture_output=True)
    return path


def server_command(server, defaults, extra=()):
    return ["mariadbd", f"--defaults-file={defaults}", "--user=root", f"--datadir={server.datadir}",
            f"--socket={server.socket}", f"--pid-file={server.directory}/pid", "--skip-networking",
            f"--log-error={server.log}"] + list(extra)


def template():
    """A datadir with Lifeguard's account (no password: a native account stands in for unix_socket,
    Lifeguard sends none either way) and sysbench's tables, prepared once and copied for each run."""
    server = MariaDB("runaway-template")
    defaults = rendered_config(server.directory)
    process = subprocess.Popen(server_command(server, defaults), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.wait_ready(120):
            raise SystemExit(f"runaway: the template server did not start; see {server.log}")
        setup = server.query("create user lifeguard@localhost; grant process, connection admin on *.* to lifeguard@localhost;"
                             " create database sbtest; create database t;")
        if setup.returncode != 0:
            raise SystemExit(f"runaway: {setup.stderr}")
        subprocess.run(SYSBENCH + [f"--mysql-socket={server.socket}", "prepare"], check=True, capture_output=True)
    finally:
        server.query("shutdown")
        process.wait(120)
    return server


class Probe(threading.Thread):
    """One more client: `select 1` every 20 ms on one connection. Records the longest time between two
    answers (a lost connection, the wait to reconnect and a restart included) and how many times its
    connection was lost."""

    def __init__(self, socket):
        super().__init__(daemon=True)
        self.socket = socket
        self.done = threading.Event()
        self.longest = 0.0
        self.lost = 0
        self.connection = self.connect()
        self.last = time.monotonic()
        self.start()

    def connect(self):
        return pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=2, read_timeout=60)

    def run(self):
        while not self.done.is_set():
            try:
                if self.connection is None:
                    self.connection = self.connect()
                with self.connection.cursor() as cursor:
                    cursor.execute("select 1")
                now = time.monotonic()
                self.longest = max(self.longest, now - self.last)
                self.last = now
                time.sleep(0.02)
            except pymysql.MySQLError:
                if self.connection is not None:
                    self.lost += 1
                    self.connection = None
                time.sleep(0.02)

    def close(self):
        """Once the server answers again (the caller waited for it): the last stall is counted."""
        wait_until(lambda: self.connection is not None and time.monotonic() - self.last < 0.5, 60, 0.05)
        self.done.set()
        self.join()


class Sysbench:
    """sysbench oltp_read_write on 4 connections until `until`, started again when a lost connection
    ends it (sysbench 1.0 ends a thread whose connection is lost, and the run with it)."""

    def __init__(self, server, until):
        self.server, self.until = server, until
        self.output = ""
        self.exits = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while (remaining := self.until - time.monotonic()) > 1:
            result = subprocess.run(["stdbuf", "-oL"] + SYSBENCH + [f"--mysql-socket={self.server.socket}", "--threads=4",
                                                                     f"--time={int(remaining)}", "--report-interval=1", "run"],
                                    capture_output=True, text=True)
            self.output += result.stdout + result.stderr
            self.exits.append(result.returncode)
            if result.returncode != 0:
                wait_until(lambda: time.monotonic() > self.until or self.server.answers(), 120, 0.05)

    def join(self):
        self.thread.join()


def sysbench_figures(output):
    """(transactions, failed transactions, connections dropped) from sysbench's per-second reports and
    FATAL lines: a thread that lost its connection says so and ends."""
    transactions = round(sum(float(tps) for tps in re.findall(r"\] thds: \d+ tps: ([\d.]+)", output)))
    failed = round(sum(float(err) for err in re.findall(r" err/s: ([\d.]+)", output)))
    dropped = len(re.findall(r"FATAL: `thread_run' function failed", output))
    return transactions, failed + dropped, dropped


def status(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def measure(label, lifeguard_options, server_options, template_server, runaway=RUNAWAY, seconds=30):
    """One contender: the server started from the template under Lifeguard, sysbench and the probe for
    `seconds`, the runaway started 5 s in. Returns the figures."""
    server = MariaDB("runaway", template=template_server)
    cgroup = Cgroup(f"runaway-{os.getpid()}", LIMIT, soft_limit=SOFT_LIMIT)
    defaults = rendered_config(server.directory)
    status_file = os.path.join(server.directory, "status", "status.json")
    log_path = os.path.join(server.directory, "lifeguard.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(container(cgroup, [LIFEGUARD, "--status-file", status_file, "--status-interval", "0.2",
                                                      "--on-crash", "restart"] + lifeguard_options + ["--"]
                                             + server_command(server, defaults, server_options)),
                                   stdout=log, stderr=log)
    try:
        if not server.wait_ready(120):
            raise SystemExit(f"runaway: MariaDB did not start; see {server.log}")
        if "--server-account" in lifeguard_options and not wait_until(
                lambda: "own connection to the server works" in open(log_path).read(), 30, 0.1):
            raise SystemExit(f"runaway: Lifeguard's own connection did not work: {open(log_path).read()[-2000:]}")
        kills_before = oom_kills(cgroup.path)
        probe = Probe(server.socket)
        bench = Sysbench(server, time.monotonic() + seconds)
        time.sleep(5)
        started = time.monotonic()
        result = subprocess.run(["mariadb", "-S", server.socket, "-uroot", "-N", "-B", "t", "-e", runaway],
                                capture_output=True, text=True, timeout=600)
        runaway_seconds = time.monotonic() - started
        bench.join()
        server.wait_ready(120)
        probe.close()
        time.sleep(0.5)  # the last status write
        text = open(log_path, errors="replace").read()
        final = status(status_file)
        transactions, failed, dropped = sysbench_figures(bench.output)
        back = [float(value) for value in re.findall(r'msg="memory back below the shed level" seconds=([\d.e-]+)', text)]
        return {
            "label": label, "restarts": final.get("restarts"), "memory_stops": final.get("memory_stops"),
            "shed_kills": final.get("shed_kills"), "oom_kills": oom_kills(cgroup.path) - kills_before,
            "sysbench_exit": max(bench.exits or [0]), "transactions": transactions, "failed": failed, "dropped": dropped,
            "probe_lost": probe.lost, "longest_wait": probe.longest, "runaway_error": result.stderr.strip(),
            "runaway_seconds": runaway_seconds, "back_below": back,
            "crash_recovery": server.log_count("Starting crash recovery"),
            "kill_lines": [line for line in text.splitlines() if "shed: killed" in line],
        }
    finally:
        stop_container(process)
        cgroup.close()
        server.remove()


def describe(figures):
    back = ",".join(f"{value * 1000:.0f}ms" for value in figures["back_below"]) or "-"
    return (f"RESULT contender={figures['label'].replace(' ', '-')} restarts={figures['restarts']} "
            f"memory_stops={figures['memory_stops']} shed_kills={figures['shed_kills']} oom_kills={figures['oom_kills']} "
            f"sysbench_exit={figures['sysbench_exit']} transactions={figures['transactions']} failed={figures['failed']} "
            f"dropped={figures['dropped']} probe_lost={figures['probe_lost']} longest_wait={figures['longest_wait']:.3f}s "
            f"back_below={back} crash_recovery={figures['crash_recovery']} runaway_error={figures['runaway_error'][-120:]!r}")


def question_cost(connections=500, rounds=20):
    """The shed's question with `connections` idle connections open, on a server with no memory limit:
    milliseconds per answer (median, worst) as Lifeguard's account sees them."""
    server = MariaDB("runaway-cost")
    defaults = rendered_config(server.directory)
    process = subprocess.Popen(server_command(server, defaults, [f"--max-connections={connections + 20}"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opened = []
    try:
        if not server.wait_ready(120):
            raise SystemExit(f"runaway: the server did not start; see {server.log}")
        server.query("create user lifeguard@localhost; grant process, connection admin on *.* to lifeguard@localhost")
        opened = [pymysql.connect(unix_socket=server.socket, user="root") for _ in range(connections)]
        sql = question_sql()
        lifeguard = pymysql.connect(unix_socket=server.socket, user="lifeguard")
        timings = []
        with lifeguard.cursor() as cursor:
            for _ in range(rounds):
                started = time.monotonic()
                cursor.execute(sql)
                cursor.fetchall()
                timings.append((time.monotonic() - started) * 1000)
        lifeguard.close()
        return percentile(timings, 0.5), max(timings)
    finally:
        for connection in opened:
            connection.close()
        server.query("shutdown")
        process.wait(120)
        server.remove()


def question_sql():
    """The exact statement Lifeguard sends to MariaDB (from the binary, not a copy)."""
    result = subprocess.run(["strings", LIFEGUARD], capture_output=True, text=True, check=True)
    for line in result.stdout.splitlines():
        if line.startswith("SELECT ID, USER, HOST, DB, COMMAND, TIME, MEMORY_USED"):
            return line
    raise SystemExit("runaway: the shed's question is not in the binary")


def run_all(names=None, log=print, seconds=30, memory_table=False):
    """The chosen contenders on copies of one template; with `memory_table`, then the MEMORY table
    doubling under the shed (labelled "memory table")."""
    chosen = [contender for contender in CONTENDERS if names is None or contender[0] in names]
    runs = [(label, lifeguard_options, server_options, RUNAWAY) for label, lifeguard_options, server_options, _ in chosen]
    if memory_table:
        runs.append(("memory table", ["--server-account"], LIFTED, MEMORY_TABLE))
    base = template()
    try:
        results = []
        for label, lifeguard_options, server_options, statement in runs:
            figures = measure(label, lifeguard_options, server_options, base, runaway=statement, seconds=seconds)
            log(describe(figures))
            results.append(figures)
        return results
    finally:
        base.remove()


def run(options):
    results = run_all(log=options.log, seconds=20 if options.quick else 30)
    median, worst = question_cost(connections=200 if options.quick else 500)
    rows = []
    for figures, (_, _, _, meaning) in zip(results, CONTENDERS):
        back = ", ".join(f"{value * 1000:.0f} ms" for value in figures["back_below"]) or "–"
        rows.append([f"{figures['label']}: {meaning}", figures["restarts"], figures["oom_kills"], figures["shed_kills"],
                     figures["dropped"] + figures["probe_lost"], figures["failed"], f"{figures['longest_wait']:.2f} s",
                     back, figures["transactions"]])
    graduated = next(figures for figures in results if figures["label"] == "graduated")
    met = (graduated["restarts"] == 0 and graduated["oom_kills"] == 0 and graduated["dropped"] + graduated["probe_lost"] == 0
           and graduated["shed_kills"] >= 1)
    return {
        "title": "9. Runaway query: one session's memory, the other connections' view",
        "header": ["contender", "restarts", "kernel OOM kills", "shed kills", "connections dropped (sysbench + probe)",
                   "transactions failed", "longest probe wait", "shed level crossed → back below", "sysbench transactions"],
        "rows": rows,
        "goal": "graduated: zero restarts and zero dropped connections for everyone else, zero kernel OOM kills",
        "met": met,
        "notes": ["MariaDB 10.11 under Lifeguard as PID 1 (cgroupfs read-only) in a 256 MiB v1 cgroup "
                  "(hard limit 268435456, soft 255013684; trigger 255652815, shed level 90 % of it), the image's "
                  "rendered settings (buffer pool 89 MiB, max_session_mem_used 64M unless lifted). sysbench "
                  "oltp_read_write, 4 threads, 4 tables of 10,000 rows, runs throughout; a probe connection runs "
                  "`select 1` every 20 ms; 5 s in, one more connection runs a GROUP BY whose in-memory temporary "
                  "table grows at about 270 MB/s (session tmp_memory_table_size 1G). Connections dropped counts "
                  "sysbench threads that ended on a lost connection and the probe's lost connections; the "
                  "longest probe wait is the longest time between two of its answers (a restart included). "
                  "sysbench is started again when a lost connection ends it, so every row ran for the same time; "
                  "its transaction count varies by a fifth between runs on this 2-CPU machine and is not a "
                  "result, and its failed transactions include the errors it ignores (InnoDB deadlocks between "
                  "its own threads), which also happen with no runaway at all.",
                  f"The shed's question (information_schema.PROCESSLIST ordered by MEMORY_USED) with "
                  f"{200 if options.quick else 500} idle connections open: {median:.1f} ms median, {worst:.1f} ms "
                  f"worst of 20 — the shed waits up to 2 s for it, and in a 256 MiB container the level is "
                  f"{(TRIGGER - TRIGGER * 0.9) / MIB:.0f} MiB below the trigger."],
    }
