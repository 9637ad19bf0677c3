"""Read the Dockerfile's instructions (there is no Docker engine here to build it)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, COPY, RUN, ...
    arguments: str

    def words(self) -> list[str]:
        """The arguments as a shell would split them (JSON exec form too)."""
        if self.arguments.startswith("["):
            words: list[str] = json.loads(self.arguments)
            return words
        return shlex.split(self.arguments)


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Each instruction, continuation lines joined, comments dropped."""
    result: list[Instruction] = []
    pending = ""
    for line in path.read_text("utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return result


def stages(path: Path = DOCKERFILE) -> list[list[Instruction]]:
    """The instructions of each build stage, in order; each stage starts with its FROM."""
    result: list[list[Instruction]] = []
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def copied_sources(stage: list[Instruction]) -> list[str]:
    """What a stage COPYs from the build context (not from another stage)."""
    sources: list[str] = []
    for instruction in stage:
        words = instruction.words()
        if instruction.keyword == "COPY" and not any(w.startswith("--from") for w in words):
            sources += words[:-1]
    return sources


def healthcheck_command(path: Path = DOCKERFILE) -> list[str]:
    """The image's HEALTHCHECK command (exec form), without its options."""
    for instruction in instructions(path):
        if instruction.keyword == "HEALTHCHECK":
            _, _, command = instruction.arguments.partition("CMD ")
            words: list[str] = json.loads(command)
            return words
    raise AssertionError("the Dockerfile has no HEALTHCHECK")
