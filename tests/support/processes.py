"""Real processes for end-to-end tests: `python -m relay …`, with their output in a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

# How a test starts `relay`: this interpreter, with the repository on its path. The smoke tests
# pass an installed wheel's console script instead.
THIS_RELAY = (sys.executable, "-m", "relay")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, message: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s: {message}")


class RelayProcess:
    """One `relay` subcommand in its own process group (so prefork children die with it).

    `supervised`: started again whenever it exits on its own, as systemd's Restart=always
    or compose's `restart: always` would; `exits` keeps each such exit status.
    `relay`: the command that starts `relay`; `cwd`: where (default: the test's)."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        logdir: Path,
        *,
        supervised: bool = False,
        relay: Sequence[str] = THIS_RELAY,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.relay = tuple(relay)
        self.cwd = cwd
        self.args = args
        self.env = dict(env)
        self.log_path = logdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.expected_alive = False
        self.supervised = supervised
        self.exits: list[int] = []
        self._supervisor: threading.Thread | None = None

    def start(self) -> RelayProcess:
        self.expected_alive = True
        self._spawn()
        if self.supervised and self._supervisor is None:
            self._supervisor = threading.Thread(
                target=self._supervise, daemon=True, name=f"supervise-{self.name}"
            )
            self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while True:
            time.sleep(0.5)
            process = self.process
            if not self.expected_alive:
                continue
            if process is not None and process.poll() is not None and self.expected_alive:
                self.exits.append(process.returncode)
                time.sleep(1.0)  # a supervisor's restart delay
                if self.expected_alive:
                    self._spawn()

    def _spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.relay, *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        self.terminate()
        self.wait_stopped(timeout)

    def terminate(self) -> None:
        """SIGTERM to the process group, without waiting (stop several at once, then wait)."""
        self.expected_alive = False
        if self.alive:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self, timeout: float = 20) -> None:
        """Wait for a terminated process to exit; SIGKILL it after `timeout`."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def crash(self) -> None:
        """SIGKILL to the process group, as the OOM killer would; a supervised process is
        started again by its supervisor."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        self.expected_alive = False
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""

    def wait_http(self, url: str, timeout: float = 60) -> None:
        def answers() -> bool:
            if not self.alive:
                raise AssertionError(f"{self.name} exited:\n{self.log()[-3000:]}")
            try:
                return httpx.get(url, timeout=2).status_code < 500
            except httpx.TransportError:
                return False

        wait_for(answers, timeout=timeout, message=f"{self.name} answering at {url}")


def run_relay(args: list[str], env: Mapping[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "relay", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"relay {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout
