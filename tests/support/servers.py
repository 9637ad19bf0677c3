"""Private servers for tests that kill, restart or flush them: never the shared ones.

Each listens on 127.0.0.1 on a free port, keeps its files in a folder of its own, and can
be killed (SIGKILL, as a crash or an OOM kill would) and started again on the same port.
Redis keeps nothing on disk (it comes back empty); PostgreSQL and RabbitMQ keep their data.
PostgreSQL and RabbitMQ refuse to run as root: as root they run as their Debian users.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from kombu.connection import Connection

from tests.support.processes import free_port, wait_for

POSTGRES_BIN = "/usr/lib/postgresql/*/bin"


def find_binary(name: str, *folders: str) -> str | None:
    """`name` on PATH, or in one of `folders` (globs: PostgreSQL keeps its own bin/)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in folders:
        for candidate in sorted(Path("/").glob(folder.lstrip("/") + "/" + name), reverse=True):
            return str(candidate)
    return None


def _as(user: str) -> list[str]:
    """Run as `user` when we are root (the servers refuse root), else as ourselves."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _owned_folder(user: str) -> Path:
    """A folder under /tmp that `user` owns (pytest's own tmp folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix=f"relay-{user}-", dir="/tmp"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, user, user)
    return folder


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not on PATH")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=20, message=f"private redis on {self.port}")

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """Killed and started again: it comes back empty, as a Redis without persistence."""
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def flushall(self) -> None:
        redis.Redis.from_url(self.url).flushall()

    def close(self) -> None:
        self.kill()


class PrivatePostgres:
    def __init__(self) -> None:
        initdb, pg_ctl = find_binary("initdb", POSTGRES_BIN), find_binary("pg_ctl", POSTGRES_BIN)
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError("initdb and pg_ctl (PostgreSQL's server) are not installed")
        self.pg_ctl = pg_ctl
        self.folder = _owned_folder("postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        subprocess.run(
            [*_as("postgres"), initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200"
        )
        subprocess.run(
            [
                *_as("postgres"),
                self.pg_ctl,
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-t",
                "60",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the data stays."""
        self._ctl("restart", "-m", "fast")

    def crash(self) -> None:
        """`pg_ctl stop -m immediate` then start: a crash and recovery."""
        self._ctl("stop", "-m", "immediate")
        self.start()

    def terminate_connections(self) -> int:
        """Ends every other connection to the server, as a failover or an admin would."""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchall()
        return len(rows)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (its own node name, ports and data folder)."""

    def __init__(self) -> None:
        binary = find_binary("rabbitmq-server", "/usr/sbin")
        if binary is None:
            raise FileNotFoundError("rabbitmq-server is not installed")
        self.binary = binary
        self.folder = _owned_folder("rabbitmq")
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"relaytest{self.port}@localhost"
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        if os.geteuid() == 0:
            for path in self.folder.iterdir():
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "none.env"),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        with (self.folder / "server.out").open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.folder,
            )
        wait_for(self.answers, timeout=90, message=f"private RabbitMQ on {self.port}")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            tail = (self.folder / "server.out").read_text(errors="replace")[-2000:]
            raise AssertionError(f"private RabbitMQ exited:\n{tail}")
        try:
            with Connection(self.url, connect_timeout=1) as connection:
                connection.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL to the node's whole process group (beam and its helpers)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
            self.process = None
        pid_file = self.folder / "pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            pid_file.unlink(missing_ok=True)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
