"""The `relay` command line: run the pipeline's processes, and look after reports.

One module per command group; what they share (start-up errors, logging, `--operator`,
`--json`) is in `relay.cli.options`. A command's module is imported when that command
runs (or `relay --help` lists them all): `relay sandbox` does not import the pipeline, and
no process pays at start for the other commands' imports.
"""

from __future__ import annotations

import importlib

import click

# Each command's name, and where it is: "module:attribute".
COMMANDS = {
    "run": "relay.cli.processes:run",
    "api": "relay.cli.processes:api",
    "worker": "relay.cli.processes:worker",
    "scheduler": "relay.cli.processes:scheduler",
    "status": "relay.cli.status:status",
    "health": "relay.cli.health:health",
    "db": "relay.cli.db:db",
    "demo": "relay.cli.demo:demo",
    "bench": "relay.cli.demo:bench",
    "sandbox": "relay.cli.sandbox:sandbox",
    "check-recipient": "relay.cli.check_recipient:check_recipient",
    "dlq": "relay.cli.dlq:dlq",
    "reconcile": "relay.cli.proof:reconcile_command",
    "overdue": "relay.cli.proof:overdue_command",
    "recipients": "relay.cli.proof:recipients",
    "routes": "relay.cli.routes:routes",
    "held": "relay.cli.held:held",
    "keys": "relay.cli.keys:keys",
    "report": "relay.cli.report:report",
    "retention": "relay.cli.retention:retention",
    "ledger": "relay.cli.ledger:ledger",
    "flower": "relay.cli.flower:flower",
    "console": "relay.cli.console:console",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when asked for (click's documented
    pattern for large command lines)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None  # click answers "No such command"
        module, _, attribute = where.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), where
        assert command.name == cmd_name, where
        return command


@click.group(cls=LazyGroup)
def main() -> None:
    """bekymring-relay: carries concern reports to case systems and proves they arrived."""
