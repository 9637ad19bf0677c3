"""`relay check-recipient`: run the rest-json receiving contract against a case system."""

from __future__ import annotations

import os
import re
import secrets
import sys
import uuid
from typing import Any

import click
import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deliverers.rest_json import RestJsonDeliverer
from ledger.clock import utc_now
from relay.cli.options import echo_json, json_option
from relay.recipient_check import (
    TEST_RECIPIENT,
    CheckResult,
    Outcome,
    Plan,
    run_checks,
    synthetic_delivery,
    unreachable,
)

STYLES = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.SKIPPED: "yellow"}


@click.command("check-recipient")
@click.argument("url")
@click.option(
    "--secret-env",
    required=True,
    metavar="NAME",
    help="Environment variable holding the signing secret shared with the case system.",
)
@click.option(
    "--vendor",
    type=click.Choice(["rest-json"]),
    default="rest-json",
    show_default=True,
    help="The receiving contract to check (rest-json is the one with endpoints to call).",
)
@click.option(
    "--token-env", metavar="NAME", default=None, help="Environment variable holding a bearer token."
)
@click.option(
    "--kommunenummer", default="0000", show_default=True, help="The test report's municipality."
)
@json_option
def check_recipient(
    url: str,
    secret_env: str,
    vendor: str,
    token_env: str | None,
    kommunenummer: str,
    as_json: bool,
) -> None:
    """Check that the case system at URL receives reports as the relay will send them.

    Pushes a test report (made up, marked as a test, no real person's data) signed as
    production signs it, pushes it again, reads it back, lists it, and pushes another one
    with a wrong signature. Prints each check with what to fix; exit 0 only if all pass.
    The test report stays stored there; its id is printed so it can be deleted."""
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="URL")
    if not re.fullmatch(r"\d{4}", kommunenummer):
        raise click.BadParameter("four digits", param_hint="--kommunenummer")
    secret = _from_env(secret_env, "--secret-env")
    token = _from_env(token_env, "--token-env") if token_env else None
    now = utc_now()
    plan = Plan(
        report=synthetic_delivery(str(uuid.uuid4()), now, kommunenummer),
        mottatt=now,
        forged=synthetic_delivery(str(uuid.uuid4()), now, kommunenummer),
        secret_env=secret_env,
    )
    with httpx.Client() as client:
        problem = unreachable(client, url)
        if problem is not None:
            click.echo(f"relay: {problem}", err=True)
            sys.exit(2)
        genuine = RestJsonDeliverer(url, secret, client=client, token=token)
        forger = RestJsonDeliverer(url, _wrong_secret(secret), client=client, token=token)
        results = run_checks(genuine, forger, plan)
    passed = all(result.outcome is Outcome.PASSED for result in results)
    if as_json:
        echo_json(_json_view(url, plan, results, passed))
    else:
        _print(url, plan, results, passed)
    sys.exit(0 if passed else 1)


def _from_env(name: str, option: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise click.BadParameter(f"the environment variable {name} is not set", param_hint=option)
    return value


def _wrong_secret(secret: str) -> str:
    while (wrong := secrets.token_hex(32)) == secret:
        pass
    return wrong


def _json_view(url: str, plan: Plan, results: list[CheckResult], passed: bool) -> dict[str, Any]:
    return {
        "url": url,
        "test_report": plan.report.report_id,
        "bad_signature_report": plan.forged.report_id,
        "passed": passed,
        "checks": [
            {"check": r.name, "result": r.outcome.value, "seen": r.seen, "fix": r.fix or None}
            for r in results
        ],
    }


def _print(url: str, plan: Plan, results: list[CheckResult], passed: bool) -> None:
    console = Console()
    table = Table(title=f"rest-json receiving contract at {escape(url)}")
    for column in ("check", "result", "seen", "what to fix"):
        table.add_column(column, overflow="fold")
    for result in results:
        label = result.outcome.value.upper() if result.outcome is Outcome.FAILED else result.outcome
        table.add_row(
            result.name,
            f"[{STYLES[result.outcome]}]{label}[/]",
            escape(result.seen),
            escape(result.fix or "-"),
        )
    console.print(table)
    if results[0].outcome is Outcome.PASSED:
        console.print(
            f"It now holds test report {plan.report.report_id} (recipient {TEST_RECIPIENT}, "
            "marked as a test); it may be deleted."
        )
    failed = sum(result.outcome is not Outcome.PASSED for result in results)
    console.print(
        f"all {len(results)} checks passed"
        if passed
        else f"{failed} of {len(results)} checks did not pass"
    )
