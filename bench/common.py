"""What every benchmark needs: paths to the built tools, real v1 memory cgroups, process figures from
/proc, percentiles and a MariaDB server in a temporary directory."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIFEGUARD = os.environ.get("LIFEGUARD_BINARY") or os.path.join(ROOT, ".build/static/lifeguard")
HELPER = os.path.join(ROOT, ".build/static/lifeguard-test-helper")
TOOLS = os.path.join(ROOT, ".build/bench")
SPAWN_TIMER = os.path.join(TOOLS, "spawn-timer")
NAIVE_POLLER = os.path.join(TOOLS, "naive-poller")
TINI = "/usr/bin/tini-static"
DUMB_INIT = "/usr/bin/dumb-init"
MIB = 1 << 20


def own_memory_cgroup():
    """The v1 memory cgroup this process lives in (the `memory:` line of /proc/self/cgroup)."""
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        if "memory" in controllers.split(","):
            return "/sys/fs/cgroup/memory" + path
    raise SystemExit("bench: no v1 memory cgroup (this harness needs the v1 memory controller)")


class Cgroup:
    """A child v1 memory cgroup with a hard limit; removed by close()."""

    def __init__(self, name, limit, soft_limit=None):
        self.path = os.path.join(own_memory_cgroup(), "lifeguard-bench", name)
        os.makedirs(self.path, exist_ok=True)
        self.write("memory.limit_in_bytes", str(limit))
        if soft_limit is not None:
            self.write("memory.soft_limit_in_bytes", str(soft_limit))
        self.limit = limit

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as handle:
            handle.write(value)

    def read(self, name):
        with open(os.path.join(self.path, name)) as handle:
            return handle.read()

    def oom_kills(self):
        for line in self.read("memory.oom_control").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def stat(self):
        return {key: int(value) for key, value in (line.split() for line in self.read("memory.stat").splitlines())}

    def working_set(self):
        """The kubelet's figure: usage − total_inactive_file."""
        return int(self.read("memory.usage_in_bytes")) - self.stat()["total_inactive_file"]

    def unreclaimable(self):
        """What Lifeguard decides on, on v1: usage less all the file cache."""
        stat = self.stat()
        return int(self.read("memory.usage_in_bytes")) - stat["total_inactive_file"] - stat["total_active_file"]

    def file_cache(self):
        stat = self.stat()
        return stat["total_inactive_file"] + stat["total_active_file"]

    def usage(self):
        return int(self.read("memory.usage_in_bytes"))

    def enter_command(self, command):
        """COMMAND wrapped so that it starts inside this cgroup."""
        return ["sh", "-c", f'echo $$ > "{self.path}/cgroup.procs" && exec "$@"', "sh"] + command

    def close(self):
        for pid in self.read("cgroup.procs").split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.05)


def proc_status(pid):
    """The fields of /proc/PID/status as a dict of strings."""
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def kilobytes(field):
    return int(field.split()[0])


def cpu_seconds(pid):
    """CPU time of every thread of PID, in seconds, from the scheduler's nanosecond account
    (/proc/PID/task/*/schedstat), not the 10 ms ticks of /proc/PID/stat."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        total += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
    return total / 1e9


def context_switches(pid):
    """Voluntary + involuntary context switches of every thread of PID: each wake-up is one."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        status = proc_status(f"{pid}/task/{task}")
        total += int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
    return total


def percentile(values, fraction):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def wait_until(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def children_of(pid):
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except FileNotFoundError:
        return []


def kill_with_children(process):
    """SIGKILL to a Popen and its direct children (unshare's PID 1), then reap it."""
    for pid in [process.pid] + children_of(process.pid):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    process.wait()


class MariaDB:
    """A MariaDB data directory in a temporary directory, and the command that serves it: a new one,
    or a copy of `template`'s (stopped) data."""

    def __init__(self, name, template=None):
        self.directory = tempfile.mkdtemp(prefix=f"lifeguard-bench-{name}.", dir="/var/tmp")
        os.chmod(self.directory, 0o755)
        self.datadir = os.path.join(self.directory, "data")
        self.socket = os.path.join(self.directory, "mysqld.sock")
        self.log = os.path.join(self.directory, "error.log")
        if template is not None:
            shutil.copytree(template.datadir, self.datadir, symlinks=True)
            return
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={self.datadir}",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def command(self, extra=()):
        return ["mariadbd", "--no-defaults", "--user=root", f"--datadir={self.datadir}", f"--socket={self.socket}",
                f"--pid-file={self.directory}/pid", "--skip-networking", f"--log-error={self.log}",
                "--innodb-buffer-pool-size=64M", "--max-heap-table-size=1G"] + list(extra)

    def query(self, sql, timeout=120):
        return subprocess.run(["mariadb", "-S", self.socket, "-uroot", "-N", "-B", "-e", sql],
                              capture_output=True, text=True, timeout=timeout)

    def answers(self):
        return os.path.exists(self.socket) and self.query("select 1", timeout=10).returncode == 0

    def wait_ready(self, timeout=60):
        return wait_until(self.answers, timeout, 0.05)

    def log_count(self, text):
        try:
            return open(self.log, errors="replace").read().count(text)
        except FileNotFoundError:
            return 0

    def remove(self):
        shutil.rmtree(self.directory, ignore_errors=True)


def stop(process, timeout=90):
    """SIGTERM, then wait; SIGKILL if it outlives the timeout."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
