"""README's settings and commands tables against the code: every `RELAY_*` setting has a row
with its default, every command of the `relay` tree a row, and no row names what is not
there. A failure names the row to add, fix or remove."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from relay.cli import main
from relay.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
UNSET = "–"  # the settings table's mark for "no default"


def table_rows(header: str) -> list[list[str]]:
    """The cells of each row of the README table whose header row is `header`."""
    lines = README.read_text("utf-8").splitlines()
    if header not in lines:
        pytest.fail(f"README has no table whose header row is {header!r}")
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:  # past the header and the |---| line
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def settings_rows() -> dict[str, str]:
    """Variable -> its default cell, from the settings table."""
    rows = table_rows("| variable | default | meaning |")
    return {row[0].strip("`"): row[1] for row in rows}


def expected_settings() -> dict[str, FieldInfo]:
    return {f"RELAY_{name.upper()}": field for name, field in Settings.model_fields.items()}


def default_of(field: FieldInfo) -> Any:
    default = field.get_default(call_default_factory=True)
    return default.get_secret_value() if isinstance(default, SecretStr) else default


def shown_default(field: FieldInfo) -> str:
    default = default_of(field)
    if default is None or default == "":
        return UNSET
    return _plain(default) if isinstance(default, int | float) else f"`{default}`"


def default_problem(variable: str, field: FieldInfo, cell: str) -> str | None:
    default = default_of(field)
    shown = cell.replace("`", "").strip()
    if default is None or default == "":
        if shown == UNSET or "$RELAY_" in shown:
            return None
        expected = f"{UNSET} (or the default it derives from another setting, with $RELAY_…)"
    elif isinstance(default, bool):
        if shown.lower() == str(default).lower():
            return None
        expected = str(default).lower()
    elif isinstance(default, int | float):
        if _number(shown) == default:
            return None
        expected = _plain(default)
    elif isinstance(default, Path):
        if Path(shown) == default:
            return None
        expected = f"`{default}`"
    else:
        if shown == str(default):
            return None
        expected = f"`{default}`"
    return f"README's settings table: the default of {variable} is {expected}, not {cell!r}"


def _plain(number: float) -> str:
    """5242880, not 5.24288e+06; 0.5 as 0.5."""
    return str(int(number)) if float(number).is_integer() else repr(number)


def _number(text: str) -> float | None:
    try:
        return float(re.sub(r"[ ,_\u202f]", "", text))
    except ValueError:
        return None


def test_every_setting_has_a_row_with_its_default_and_every_row_a_setting() -> None:
    documented, expected = settings_rows(), expected_settings()
    problems = [
        f"README's settings table has no row for {variable} (default: {shown_default(field)})"
        for variable, field in expected.items()
        if variable not in documented
    ]
    problems += [
        f"README's settings table has a row for {variable}, which is no setting "
        "(relay/settings.py): remove it"
        for variable in documented
        if variable not in expected
    ]
    problems += [
        problem
        for variable, field in expected.items()
        if variable in documented
        and (problem := default_problem(variable, field, documented[variable]))
    ]
    assert not problems, "\n".join(problems)


def subcommands(group: click.Group) -> dict[str, click.Command]:
    """A group's commands as `relay` finds them (`main` imports each only when asked)."""
    context = click.Context(group)
    found = {name: group.get_command(context, name) for name in group.list_commands(context)}
    return {name: command for name, command in found.items() if command is not None}


def leaf_commands(command: click.Command, path: tuple[str, ...]) -> set[str]:
    if not isinstance(command, click.Group):
        return set() if command.hidden else {" ".join(path)}
    return set().union(
        *(leaf_commands(sub, (*path, name)) for name, sub in subcommands(command).items())
    )


def documented_commands() -> tuple[set[str], list[str]]:
    """The commands the table's first column names (each `relay …` code span), and what in
    it names no command."""
    found: set[str] = set()
    problems: list[str] = []
    for row in table_rows("| command | what it does |"):
        for span in re.findall(r"`([^`]+)`", row[0]):
            words = span.split()
            if not words or words[0] != "relay":
                continue
            command: click.Command = main
            path = ["relay"]
            for word in words[1:]:
                found_here = subcommands(command) if isinstance(command, click.Group) else {}
                if word not in found_here:
                    break
                command = found_here[word]
                path.append(word)
            named = " ".join(path)
            if len(path) == 1:
                problems.append(
                    f"README's commands table names `{span}`, which is no command: "
                    "remove or correct the row"
                )
            elif isinstance(command, click.Group):
                problems.append(
                    f"README's commands table names `{named}`, a group: name its commands "
                    f"({', '.join(sorted(subcommands(command)))})"
                )
            else:
                found.add(named)
    return found, problems


def test_every_command_has_a_row_and_every_row_a_command() -> None:
    documented, problems = documented_commands()
    problems += [
        f"README's commands table has no row for `{command}`"
        for command in sorted(leaf_commands(main, ("relay",)) - documented)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("default", "cell", "agrees"),
    [
        (60.0, "60", True),
        (60.0, "61", False),
        (5 * 1024 * 1024, "5242880", True),
        (0.5, "0.5", True),
        (None, "–", True),
        (None, "`$RELAY_DATA_DIR/checkpoints.jsonl`", True),
        (None, "30", False),
        ("", "–", True),
        (SecretStr(""), "–", True),
        ("INFO", "`INFO`", True),
        ("INFO", "`DEBUG`", False),
        (Path("./var"), "`./var`", True),
        (Path("./var"), "`./data`", False),
        (False, "false", True),
        (False, "true", False),
    ],
)
def test_a_default_cell_must_agree_with_the_field(default: Any, cell: str, agrees: bool) -> None:
    problem = default_problem("RELAY_X", FieldInfo(default=default), cell)
    assert (problem is None) is agrees, problem


def test_the_tables_are_found_and_read() -> None:
    """The parsing above is what the two tests trust: it must see the rows as written."""
    assert settings_rows()["RELAY_DATA_DIR"] == "`./var`"
    commands, _ = documented_commands()
    assert {"relay run", "relay db upgrade", "relay dlq redrive"} <= commands
