from __future__ import annotations

from pathlib import Path

import pytest

from relay.bootstrap import StartupError, load_settings
from relay.settings import Settings

LONG = "x" * 32


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert settings.broker_url == f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    assert settings.is_embedded
    assert (
        settings.verify_delay_seconds,
        settings.retry_base_seconds,
        settings.retry_max_attempts,
    ) == (60, 5, 20)


def test_tokens_map_to_their_clients() -> None:
    settings = Settings(intake_tokens=f"portal:{LONG},other:{'y' * 40}")  # type: ignore[arg-type]
    assert settings.client_tokens() == {LONG: "portal", "y" * 40: "other"}


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ("portal:short", "shorter than 32"),
        ("portal", "must look like client_id:token"),
        (f"a:{LONG},b:{LONG}", "reuses another's token"),
    ],
)
def test_bad_tokens_stop_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tokens: str, message: str
) -> None:
    monkeypatch.setenv("RELAY_INTAKE_TOKENS", tokens)
    with pytest.raises(StartupError) as raised:
        load_settings()
    assert "RELAY_INTAKE_TOKENS" in str(raised.value)
    assert message in str(raised.value)


def test_a_bad_number_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_RETRY_MAX_ATTEMPTS", "many")
    with pytest.raises(StartupError, match="RELAY_RETRY_MAX_ATTEMPTS"):
        load_settings()
