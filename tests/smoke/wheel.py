"""The production install, made as the Dockerfile makes it: a wheel built from the image's own
sources, installed into a clean virtual environment at the versions in constraints.txt, and
without the test extras."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.dockerfile import ROOT, copied_sources, stages

CONSTRAINTS = ROOT / "constraints.txt"
PIP = (sys.executable, "-m", "pip")  # the tests' pip builds, and installs into the clean venv
INSTALL_TIMEOUT_SECONDS = 300


def clean_env() -> dict[str, str]:
    """This process's environment without the relay's settings or another Python's paths."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
    return {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k not in dropped}


def step(command: Sequence[str | Path], what: str, cwd: Path, timeout: float) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise AssertionError(f"{what} failed (exit {result.returncode}):\n{output}")
    return result.stdout


@dataclass(frozen=True)
class Installed:
    """The clean venv. Its processes start in `home`, outside the repository, so that nothing
    they import can come from the source tree."""

    venv: Path
    home: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def relay(self) -> tuple[str, ...]:
        return (str(self.venv / "bin" / "relay"),)

    def run(
        self, args: Sequence[str], env: Mapping[str, str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.relay, *args],
            cwd=self.home,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.relay, *args],
            cwd=self.home,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def check(self, args: Sequence[str], env: Mapping[str, str], timeout: float = 60) -> str:
        result = self.run(args, env, timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"relay {' '.join(args)} from the installed wheel failed "
                f"(exit {result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}"
            )
        return result.stdout


def build_wheel(workdir: Path) -> Path:
    """`pip wheel` over a copy of exactly what the Dockerfile's build stage copies."""
    source = workdir / "source"
    source.mkdir()
    for name in copied_sources(stages()[0]):
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = workdir / "dist"
    command: list[str | Path] = [*PIP, "wheel", "--quiet", "--no-deps"]
    command += ["--wheel-dir", dist, source]
    step(command, "building the wheel", workdir, INSTALL_TIMEOUT_SECONDS)
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel, found {[w.name for w in wheels]}"
    return wheels[0]


def install(workdir: Path) -> Installed:
    """Build the wheel and install it (dependencies from constraints.txt) into a new venv
    (one without pip: nothing but the wheel and what it requires)."""
    venv = workdir / "venv"
    step([sys.executable, "-m", "venv", "--without-pip", venv], "python -m venv", workdir, 60)
    installed = Installed(venv, workdir / "home")
    installed.home.mkdir()
    wheel = build_wheel(workdir)
    pip: list[str | Path] = [*PIP, "--python", installed.python, "install", "--quiet"]
    pip += ["--constraint", CONSTRAINTS, wheel]
    step(pip, "pip install", workdir, INSTALL_TIMEOUT_SECONDS)
    check_clean(installed)
    return installed


_WHERE = """
import importlib.metadata as metadata, relay, sys
print(relay.__file__)
for name in sys.argv[1:]:
    try:
        metadata.distribution(name)
        print(name)
    except metadata.PackageNotFoundError:
        pass
"""


def check_clean(installed: Installed) -> None:
    """`relay` comes from the venv, and no test extra is installed there."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    test_names = [_name(requirement) for requirement in extras["optional-dependencies"]["test"]]
    output = step(
        [installed.python, "-c", _WHERE, *test_names], "import relay", installed.home, 60
    ).split()
    assert Path(output[0]).is_relative_to(installed.venv), f"relay imported from {output[0]}"
    assert output[1:] == [], f"test extras in the production venv: {output[1:]}"


def _name(requirement: str) -> str:
    for separator in "[<>=!~; ":
        requirement = requirement.split(separator)[0]
    return requirement
