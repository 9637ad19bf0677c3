from __future__ import annotations

from pathlib import Path

import pytest

from router.routes import RoutesFileError, load_routes

ROUTES = """
recipients:
  - id: bergen-bergenhus
    name: Barneverntjenesten for Bergenhus og Årstad
    serves: ["4601-01", "4601-03"]
    vendor: rest-json
    endpoint: http://127.0.0.1:8181
    secret_env: SECRET_BERGEN
  - id: oslo
    name: Oslo
    serves: ["0301"]
    vendor: rest-json
    endpoint: http://127.0.0.1:8182
    secret_env: SECRET_OSLO
    token_env: TOKEN_OSLO
"""
ENV = {"SECRET_BERGEN": "b" * 32, "SECRET_OSLO": "o" * 32, "TOKEN_OSLO": "t"}


def write(tmp_path: Path, text: str, name: str = "routes.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_a_valid_file_loads_with_secrets_from_the_environment(tmp_path: Path) -> None:
    table = load_routes(write(tmp_path, ROUTES), ENV)
    assert table.recipients["oslo"].secret == "o" * 32
    assert table.recipients["oslo"].token == "t"
    assert table.by_served["4601-03"] == "bergen-bergenhus"


def test_toml_is_read_too(tmp_path: Path) -> None:
    toml = """
[[recipients]]
id = "oslo"
name = "Oslo"
serves = ["0301"]
vendor = "rest-json"
endpoint = "http://127.0.0.1:8182"
secret_env = "SECRET_OSLO"
"""
    table = load_routes(write(tmp_path, toml, "routes.toml"), ENV)
    assert list(table.recipients) == ["oslo"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('serves: ["0301"]', 'serves: ["301"]'), "recipients[1] (id=oslo).serves"),
        (("id: oslo", "id: Oslo!"), "recipients[1] (id=Oslo!).id"),
        (
            (
                "    vendor: rest-json\n    endpoint: http://127.0.0.1:8182",
                "    endpoint: http://127.0.0.1:8182",
            ),
            "recipients[1] (id=oslo).vendor",
        ),
        (
            ('serves: ["0301"]', 'serves: ["4601-01"]'),
            "recipients[1] (id=oslo).serves: 4601-01 is already served by bergen-bergenhus",
        ),
        (("id: oslo", "id: bergen-bergenhus"), "recipients[1] (id=bergen-bergenhus).id"),
        (
            ("token_env: TOKEN_OSLO", "token_env: TOKEN_MISSING"),
            "recipients[1] (id=oslo).token_env: environment variable TOKEN_MISSING is not set",
        ),
        (("token_env: TOKEN_OSLO", "colour: blue"), "recipients[1] (id=oslo).colour"),
    ],
)
def test_errors_name_the_entry_and_the_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(RoutesFileError) as raised:
        load_routes(write(tmp_path, ROUTES.replace(*change)), ENV)
    assert message in str(raised.value)


def test_unreadable_and_unparsable_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(RoutesFileError, match="cannot read"):
        load_routes(tmp_path / "nope.yaml", ENV)
    with pytest.raises(RoutesFileError, match="not valid yaml"):
        load_routes(write(tmp_path, "recipients: [\n"), ENV)
