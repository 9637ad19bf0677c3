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


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u:secret@h/db", "write postgresql+psycopg://… instead of postgres://…"),
        ("postgresql://u:secret@h/db", "instead of postgresql://…"),
        ("postgresql+psycopg2://u:secret@h/db", "instead of postgresql+psycopg2://…"),
        ("mysql://u:secret@h/db", "mysql://… is no ledger"),
        ("ledger.sqlite", "a value without a scheme is no ledger"),
    ],
)
def test_a_database_url_the_ledger_cannot_use_gets_the_right_form(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("RELAY_DATABASE_URL", url)
    with pytest.raises(StartupError) as raised:
        load_settings()
    assert "RELAY_DATABASE_URL: " in str(raised.value)
    assert message in str(raised.value)
    assert "secret" not in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_ledger_urls_it_can_use_pass() -> None:
    for url in ("postgresql+psycopg://u@h/db", "sqlite:////tmp/x.sqlite"):
        assert Settings(database_url=url).database_url == url


def test_a_log_level_is_one_of_loggings_and_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    monkeypatch.setenv("RELAY_LOG_LEVEL", "verbose")
    with pytest.raises(StartupError, match="RELAY_LOG_LEVEL: unknown log level 'verbose'"):
        load_settings()


def test_a_broker_url_of_no_known_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("redis://h/0", "rediss://h/0", "amqp://u:p@h//", "sqla+sqlite:///x"):
        assert Settings(broker_url=url).broker_url == url
    monkeypatch.setenv("RELAY_BROKER_URL", "kafka://u:secret@h")
    with pytest.raises(StartupError, match=r"RELAY_BROKER_URL: kafka://… is no broker") as raised:
        load_settings()
    assert "secret" not in str(raised.value)


def test_several_bad_settings_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_LOG_LEVEL", "loud")
    monkeypatch.setenv("RELAY_RETRY_MAX_ATTEMPTS", "many")
    with pytest.raises(StartupError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert "RELAY_LOG_LEVEL" in message
    assert "RELAY_RETRY_MAX_ATTEMPTS" in message
