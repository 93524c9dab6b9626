"""Runaway query: one session grows the server's memory while sysbench oltp_read_write runs on four
other connections, in the article's 256 MiB container (MariaDB under Lifeguard as PID 1, cgroupfs
read-only, the image's rendered settings). Side by side: no guard (the kernel alone), the memory stop
only (the shed off: Lifeguard before the shed), the graduated response (the shed), and the server's own
limit (max_session_mem_used as rendered). What the other connections see is the figure: restarts,
connections dropped, transactions that failed, the longest time a probe connection waited for an
answer, and for the shed the time from crossing the shed level to being back below it.

Also the cost of the shed's question with hundreds of connections open.

Used by `scripts/runaway` (the tests run it with --check) and by the benchmark harness (section 9)."""
import re
import subprocess
import threading
import time

from common import LIFEGUARD, MIB, MariaDB, percentile, wait_until
from false_stops import TRIGGER
from runaway_servers import SYSBENCH, DockerServer, HostServer, client, rendered_config, server_command

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
LIFTED = ["--max-session-mem-used=9223372036854775807"]

# (label, Lifeguard's settings, the server's extra options, what it stands for)
CONTENDERS = [
    ("no guard", {"LIFEGUARD_MEMORY_LIMIT": "off"}, LIFTED, "the kernel alone (Lifeguard as init, guard off)"),
    ("stop only", {"LIFEGUARD_SHED_AT": "off"}, LIFTED, "the memory stop, no shed (Lifeguard before the shed)"),
    ("graduated", {"LIFEGUARD_SERVER_ACCOUNT": "1"}, LIFTED, "the shed, then the stop"),
    ("server limit", {"LIFEGUARD_SERVER_ACCOUNT": "1"}, [], "max_session_mem_used as rendered (64M), the shed on"),
]
MEMORY_TABLE_RUN = ("memory table", {"LIFEGUARD_SERVER_ACCOUNT": "1"}, LIFTED, MEMORY_TABLE)


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


def measure(server, label, runaway=RUNAWAY, seconds=30):
    """One contender on a started `server`: sysbench and the probe for `seconds`, the runaway started
    5 s in. Returns the figures, and closes the server."""
    try:
        kills_before = server.oom_kills()
        probe = Probe(server.socket)
        bench = Sysbench(server, time.monotonic() + seconds)
        time.sleep(5)
        started = time.monotonic()
        result = client(server.socket, runaway, database="t")
        runaway_seconds = time.monotonic() - started
        bench.join()
        server.wait_ready(120)
        probe.close()
        time.sleep(0.5)  # the last status write
        text = server.lifeguard_log()
        final = server.status()
        transactions, failed, dropped = sysbench_figures(bench.output)
        back = [float(value) for value in re.findall(r'msg="memory back below the shed level" seconds=([\d.e-]+)', text)]
        return {
            "label": label, "where": server.where, "restarts": final.get("restarts"), "memory_stops": final.get("memory_stops"),
            "shed_kills": final.get("shed_kills"), "oom_kills": server.oom_kills() - kills_before,
            "sysbench_exit": max(bench.exits or [0]), "transactions": transactions, "failed": failed, "dropped": dropped,
            "probe_lost": probe.lost, "longest_wait": probe.longest, "runaway_error": result.stderr.strip(),
            "runaway_seconds": runaway_seconds, "back_below": back,
            "crash_recovery": server.server_log_count("Starting crash recovery"),
            "kill_lines": [line for line in text.splitlines() if "shed: killed" in line],
        }
    finally:
        server.close()


def describe(figures):
    back = ",".join(f"{value * 1000:.0f}ms" for value in figures["back_below"]) or "-"
    return (f"RESULT contender={figures['label'].replace(' ', '-')} where={figures['where']} restarts={figures['restarts']} "
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


def run_all(names=None, log=print, seconds=30, memory_table=False, where="host", image=None):
    """The chosen contenders, on the host (copies of one template) or in `image`; with
    `memory_table`, then the MEMORY table doubling under the shed (labelled "memory table")."""
    runs = [(label, settings, options, RUNAWAY) for label, settings, options, _ in CONTENDERS if names is None or label in names]
    if memory_table:
        runs.append(MEMORY_TABLE_RUN)
    base = HostServer.template() if where == "host" else None
    try:
        results = []
        for label, settings, options, statement in runs:
            server = HostServer(base, settings, options) if where == "host" else DockerServer(image, settings, options)
            figures = measure(server, label, runaway=statement, seconds=seconds)
            log(describe(figures))
            results.append(figures)
        return results
    finally:
        if base is not None:
            base.remove()


def run(options):
    import images
    seconds = 20 if options.quick else 30
    results = (run_all(log=options.log, seconds=seconds)
               + run_all(log=options.log, seconds=seconds, where="docker", image=images.current(options)))
    median, worst = question_cost(connections=200 if options.quick else 500)
    meanings = {label: meaning for label, _, _, meaning in CONTENDERS}
    rows = []
    for figures in results:
        back = ", ".join(f"{value * 1000:.0f} ms" for value in figures["back_below"]) or "–"
        rows.append([f"{figures['label']}: {meanings[figures['label']]}", figures["where"], figures["restarts"],
                     figures["oom_kills"], figures["shed_kills"], figures["dropped"] + figures["probe_lost"], figures["failed"],
                     f"{figures['longest_wait']:.2f} s", back, figures["transactions"]])
    graduated = [figures for figures in results if figures["label"] == "graduated"]
    met = all(figures["restarts"] == 0 and figures["oom_kills"] == 0 and figures["dropped"] + figures["probe_lost"] == 0
              and figures["shed_kills"] >= 1 for figures in graduated)
    return {
        "title": "9. Runaway query: one session's memory, the other connections' view",
        "header": ["contender", "where", "restarts", "kernel OOM kills", "shed kills", "connections dropped (sysbench + probe)",
                   "transactions failed", "longest probe wait", "shed level crossed → back below", "sysbench transactions"],
        "rows": rows,
        "goal": "graduated: zero restarts and zero dropped connections for everyone else, zero kernel OOM kills",
        "met": met,
        "notes": ["MariaDB 10.11 under Lifeguard as PID 1, on the host in a 256 MiB v1 cgroup (cgroupfs read-only; "
                  "hard limit 268435456, soft 255013684) and in the image built from the tree with the article's "
                  "`--memory 268435456 --memory-reservation 255013684` (Lifeguard's account by unix_socket); trigger "
                  "255652815, shed level 90 % of it; the image's rendered settings (buffer pool 89 MiB, "
                  "max_session_mem_used 64M unless the user lifted it, as here but in the last row of each). sysbench "
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
