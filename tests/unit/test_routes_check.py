"""`relay routes check`: gaps, numbers that do not exist today, numbers served twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from relay.cli import main
from relay.demo.scenario import routes_document
from router.check import Finding, Kind, check
from router.registry import default_registry
from router.routes import RecipientEntry

REGISTRY = default_registry()
EVERY_OTHER = sorted(set(REGISTRY.kommuner) - {"0301", "4601"})
OSLO = [f"0301-{bydel:02d}" for bydel in range(1, 18)]
BERGEN = [f"4601-{bydel:02d}" for bydel in range(1, 9)]


def entry(recipient: str, serves: list[str]) -> RecipientEntry:
    return RecipientEntry(id=recipient, name=recipient, serves=serves, vendor="v", endpoint="e")


def findings_for(*extra: RecipientEntry) -> list[Finding]:
    return check([entry("rest", EVERY_OTHER), *extra], REGISTRY)


def test_a_file_that_covers_everything_once_is_clean() -> None:
    assert findings_for(entry("oslo", OSLO), entry("bergen", ["4601"])) == []
    assert findings_for(entry("oslo", ["0301"]), entry("bergen", BERGEN)) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            entry("b", ["4601", "0301", "1201"]),
            Finding(
                Kind.OUTDATED,
                "recipients[1] (id=b).serves: 1201 is outdated: 1201 is 4601 (Bergen) today;"
                " serve 4601",
            ),
        ),
        (
            entry("b", ["4601", "0301", "1201-02"]),
            Finding(
                Kind.OUTDATED,
                "recipients[1] (id=b).serves: 1201-02 is outdated: 1201 is 4601 (Bergen) today;"
                " serve 4601-02",
            ),
        ),
        (
            entry("b", ["4601", "0301", "9999"]),
            Finding(Kind.NEVER_EXISTED, "recipients[1] (id=b).serves: 9999 has never existed"),
        ),
        (
            entry("b", ["4601", "0301", "1507"]),
            Finding(
                Kind.SPLIT,
                "recipients[1] (id=b).serves: kommunenummer 1507 was split in 2024 into 1508"
                " and 1580; serve the parts",
            ),
        ),
        (
            entry("b", ["4601", "0301", "1101-01"]),
            Finding(
                Kind.NOT_A_BYDEL,
                "recipients[1] (id=b).serves: 1101-01: 1101 (Eigersund) has no bydel 01",
            ),
        ),
        (
            entry("b", ["4601", *OSLO, "0301-99"]),
            Finding(
                Kind.NOT_A_BYDEL,
                "recipients[1] (id=b).serves: 0301-99: bydel 99 means unspecified and is never"
                " routed by bydel; serve 0301 for reports that name no bydel",
            ),
        ),
        (
            entry("b", ["4601", "0301", "1101"]),
            Finding(Kind.DUPLICATE, "recipients[1] (id=b).serves: 1101 is already served by rest"),
        ),
        (
            entry("rest", ["4601", "0301"]),
            Finding(
                Kind.DUPLICATE, "recipients[1] (id=rest).id: the id is used by an earlier entry too"
            ),
        ),
        (
            entry("b", ["0301"]),
            Finding(Kind.UNSERVED, "4601 (Bergen) has no recipient"),
        ),
        (
            entry("b", ["4601", *OSLO[:15]]),
            Finding(
                Kind.UNSERVED, "0301 (Oslo) is routed by bydel; bydel 16 (Sentrum) has no recipient"
            ),
        ),
    ],
)
def test_each_kind_of_finding_names_the_entry_and_what_to_do(
    extra: RecipientEntry, expected: Finding
) -> None:
    assert expected in findings_for(extra)


def test_bydel_gaps_are_listed_one_by_one() -> None:
    found = findings_for(entry("oslo", ["0301-01"]), entry("bergen", ["4601"]))
    assert [f.message.split("bydel ")[-1][:2] for f in found] == [f"{b:02d}" for b in range(2, 18)]


# -- the command ------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["routes", "check", *args])
    return result.exit_code, result.output


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return path


def test_the_demos_routes_file_is_clean(tmp_path: Path) -> None:
    endpoints = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]
    path = write(tmp_path, routes_document(endpoints))
    status, output = run("--file", str(path), "--no-secrets")  # the demo makes its own
    assert status == 0, output
    assert "clean" in output
    assert "secrets not checked (--no-secrets)" in output


def test_a_file_with_gaps_exits_1_and_lists_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "recipients": [
                {
                    "id": "oslo",
                    "name": "O",
                    "serves": ["0301", "1201"],
                    "vendor": "rest-json",
                    "endpoint": "http://127.0.0.1:9",
                    "secret_env": "RELAY_SECRET_OSLO",
                }
            ]
        },
    )
    status, output = run("--file", str(path), "--no-secrets")
    assert status == 1
    assert "usable by the processes" in output
    assert "357 problems" in output  # 356 municipalities without a recipient, 1 outdated
    assert "4601 (Bergen) has no recipient" in output
    assert "1201 is outdated: 1201 is 4601 (Bergen) today" in output

    status, output = run("--file", str(path), "--json", "--no-secrets")
    assert status == 1
    report = json.loads(output)
    assert report["ok"] is False
    assert {"kind": "unserved", "message": "5501 (Tromsø) has no recipient"} in report["findings"]


def test_an_invalid_file_exits_1_naming_the_entry_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "recipients": [
                {"id": "oslo", "name": "O", "serves": ["03O1"], "vendor": "v", "endpoint": "e"}
            ]
        },
    )
    status, output = run("--file", str(path))
    assert status == 1
    assert "recipients[0] (id=oslo).serves" in output
