"""The repository carries its own contracts: nothing points outside it, every relative link
in the README and docs/ leads to a file (and heading) that exists, and the contract text
copied from the specification is still the specification's, byte for byte."""

from __future__ import annotations

import hashlib
import re
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The project's shared material sits beside the checkout, never inside it; spelled in two
# parts so that a search for it does not find this file.
OUTSIDE = "/".join(["..", "shared"])
SKIPPED_FOLDERS = {"var", "build", "node_modules", "__pycache__"}
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
CONTRACT = re.compile(
    rb"<!-- contract text begins: spec/(?P<name>[\w.-]+), sha256 (?P<sha>[0-9a-f]{64}) -->\n"
    rb"(?P<text>.*?)<!-- contract text ends -->\n",
    re.DOTALL,
)
CONTRACT_DOCS = [
    "ARCHITECTURE.md",
    "intake-api.md",
    "case-system-rest-json.md",
    "fiks-io-mailbox.md",
    "routes-file.md",
]


def tracked(*patterns: str) -> list[Path]:
    """The repository's files matching `patterns` (git's list, or the tree outside a checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", *patterns],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        found = [path for pattern in patterns for path in ROOT.rglob(pattern)]
        return sorted(path for path in found if not _skipped(path))
    return [ROOT / name for name in listed.decode().split("\0") if name]


def _skipped(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts[:-1]
    return any(p.startswith(".") or p in SKIPPED_FOLDERS or p.endswith(".egg-info") for p in parts)


def markdown_docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def outside_code(text: str) -> list[tuple[int, str]]:
    """The lines of a Markdown text that are not inside a fenced code block, numbered."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in ("L", "N"))
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found = set()
    for _, line in outside_code(path.read_text("utf-8")):
        match = HEADING.match(line)
        if match:
            found.add(slug(match.group(1)))
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Each relative link in a Markdown file whose file (or heading) is not in `root`."""
    problems = []
    for number, line in outside_code(path.read_text("utf-8")):
        for target in LINK.findall(re.sub(r"`[^`]*`", lambda m: m[0].replace("(", " "), line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            where = f"{path.relative_to(root)}:{number}: {target}"
            file_part, _, anchor = unquote(target).partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.is_relative_to(root):
                problems.append(f"{where} points outside the repository")
            elif not linked.exists():
                problems.append(f"{where} does not exist")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where}: no heading #{anchor} in {linked.name}")
    return problems


def test_nothing_points_outside_the_repository() -> None:
    files = tracked("*.py", "*.md")
    assert len(files) > 50, "the scan found the repository's files"
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if OUTSIDE in line
    ]
    assert offenders == [], f"{OUTSIDE} is not in the repository; link to docs/ instead"


@pytest.mark.parametrize("doc", markdown_docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_that_exists(doc: Path) -> None:
    assert broken_links(doc) == []


def test_the_link_check_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# The relay\n", "utf-8")
    doc = tmp_path / "docs" / "links.md"
    doc.write_text(
        "# Links, `checked`\n"
        "[a](missing.md) [b](../README.md#no-such-heading) [c](../../outside.md)\n"
        "```\n[not a link](ignored.md)\n```\n"
        "[d](https://example.org/x.md) [e](../README.md#the-relay) [f](#links-checked)\n",
        "utf-8",
    )
    problems = broken_links(doc, tmp_path)
    assert len(problems) == 3, problems
    assert "missing.md does not exist" in problems[0]
    assert "no heading #no-such-heading" in problems[1]
    assert "outside the repository" in problems[2]


def test_the_readme_and_docs_link_to_every_contract() -> None:
    index = (ROOT / "docs" / "README.md").read_text("utf-8")
    for name in [*CONTRACT_DOCS, "signing-secret-rotation.md", "examples/receiver.py"]:
        assert f"]({name}" in index, name
    assert "](docs/" in (ROOT / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name", CONTRACT_DOCS)
def test_the_copied_contract_text_is_unchanged(name: str) -> None:
    copies = list(CONTRACT.finditer((ROOT / "docs" / name).read_bytes()))
    assert len(copies) == 1, "one contract text, between its two markers"
    copy = copies[0]
    assert copy["name"].decode() == name
    assert hashlib.sha256(copy["text"]).hexdigest() == copy["sha"].decode()
