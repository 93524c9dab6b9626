"""The servers of the runaway section: MariaDB under Lifeguard in the article's 256 MiB container, on
this host's v1 cgroup (PID 1, cgroupfs read-only, the image's rendered settings) or in the image on the
Docker engine with the article's flags. Both are configured the same way, by Lifeguard's environment
variables, and prepared the same way: Lifeguard's account (on the host a native account with no
password stands in for unix_socket: Lifeguard sends none either way), sysbench's tables, database t."""
import json
import os
import subprocess

import false_stops
from common import LIFEGUARD, ROOT, Cgroup, MariaDB, wait_until
from false_stops import LIMIT, SOFT_LIMIT, TRIGGER, oom_kills
from race import container, stop_container

SYSBENCH = ["sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-user=root", "--mysql-db=sbtest",
            "--tables=4", "--table-size=10000"]
SETUP = "create database if not exists sbtest; create database if not exists t;"
ACCOUNT = "create user lifeguard@localhost; grant process, connection admin on *.* to lifeguard@localhost;"


def rendered_config(directory, environment=None):
    """The image's settings for the article's offer, as the entrypoint renders them."""
    path = os.path.join(directory, "mysqld.cnf")
    subprocess.run([LIFEGUARD, "render-config", "--template", os.path.join(ROOT, "my.cnf.template"), "--output", path,
                    "--offer", str(TRIGGER), "--flavor", "mariadb"], check=True, capture_output=True,
                   env=dict(os.environ, **(environment or {})))
    return path


def server_command(server, defaults, extra=()):
    return ["mariadbd", f"--defaults-file={defaults}", "--user=root", f"--datadir={server.datadir}",
            f"--socket={server.socket}", f"--pid-file={server.directory}/pid", "--skip-networking",
            f"--log-error={server.log}"] + list(extra)


def client(socket, sql, database=None, timeout=600):
    return subprocess.run(["mariadb", "-S", socket, "-uroot", "-N", "-B"] + ([database] if database else []) + ["-e", sql],
                          capture_output=True, text=True, timeout=timeout)


class Server:
    """What a measurement needs of either: the socket, the status, the logs, the cgroup."""
    socket = status_file = cgroup_path = None

    def answers(self):
        return os.path.exists(self.socket) and client(self.socket, "select 1", timeout=10).returncode == 0

    def wait_ready(self, timeout=120):
        return wait_until(self.answers, timeout, 0.05)

    def status(self):
        try:
            with open(self.status_file) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def oom_kills(self):
        return oom_kills(self.cgroup_path)

    def wait_for_link(self, settings):
        """With Lifeguard's account on: until Lifeguard says its connection works."""
        if settings.get("LIFEGUARD_SERVER_ACCOUNT") and not wait_until(
                lambda: "own connection to the server works" in self.lifeguard_log(), 30, 0.1):
            raise SystemExit(f"runaway: Lifeguard's own connection did not work: {self.lifeguard_log()[-2000:]}")


class HostServer(Server):
    where = "host"

    @staticmethod
    def template():
        """A datadir with the account and sysbench's tables, prepared once and copied for each run."""
        server = MariaDB("runaway-template")
        process = subprocess.Popen(server_command(server, rendered_config(server.directory)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not server.wait_ready(120):
                raise SystemExit(f"runaway: the template server did not start; see {server.log}")
            setup = server.query(ACCOUNT + SETUP)
            if setup.returncode != 0:
                raise SystemExit(f"runaway: {setup.stderr}")
            subprocess.run(SYSBENCH + [f"--mysql-socket={server.socket}", "prepare"], check=True, capture_output=True)
        finally:
            server.query("shutdown")
            process.wait(120)
        return server

    def __init__(self, template, settings, server_options):
        self.server = MariaDB("runaway", template=template)
        self.cgroup = Cgroup(f"runaway-{os.getpid()}", LIMIT, soft_limit=SOFT_LIMIT)
        self.socket, self.cgroup_path = self.server.socket, self.cgroup.path
        self.status_file = os.path.join(self.server.directory, "status", "status.json")
        self.log_path = os.path.join(self.server.directory, "lifeguard.log")
        # As the image runs it: crashes restarted in place; the status written often for the figures.
        environment = dict(os.environ, LIFEGUARD_ON_CRASH="restart", LIFEGUARD_STATUS_FILE=self.status_file,
                           LIFEGUARD_STATUS_INTERVAL="0.2", **settings)
        defaults = rendered_config(self.server.directory, settings)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(container(self.cgroup, [LIFEGUARD, "--"] + server_command(self.server, defaults, server_options)),
                                            stdout=log, stderr=log, env=environment)
        if not self.wait_ready():
            raise SystemExit(f"runaway: MariaDB did not start; see {self.server.log}")
        self.wait_for_link(settings)

    def lifeguard_log(self):
        return open(self.log_path, errors="replace").read()

    def server_log_count(self, text):
        return self.server.log_count(text)

    def close(self):
        stop_container(self.process)
        self.cgroup.close()
        self.server.remove()


class DockerServer(false_stops.DockerServer, Server):
    """The image with the article's flags and `--network none`; the host reaches the server through a
    bind-mounted socket directory, and reads the status file from a bind-mounted status directory.
    Started, waited for (Lifeguard's status: the entrypoint's temporary server answers on the same socket
    first), logged and removed as the false-stops section's."""
    where = "docker"

    def __init__(self, image, settings, server_options):
        false_stops.DockerServer.__init__(self, image, False, environment=dict(settings, LIFEGUARD_STATUS_INTERVAL="0.2"),
                                          arguments=server_options)
        self.status_file = f"{self.directory}/status/status.json"
        self.cgroup_path = self.cgroup_directory
        setup = client(self.socket, SETUP)
        if setup.returncode != 0:
            raise SystemExit(f"runaway: {setup.stderr}")
        subprocess.run(SYSBENCH + [f"--mysql-socket={self.socket}", "prepare"], check=True, capture_output=True)
        self.wait_for_link(settings)

    def server_log_count(self, text):
        return self.lifeguard_log().count(text)
