"""Where a recipient's secrets come from: the environment variable it names (`secret_env`),
or a file (`secret_file`, relative to the routes file's directory).

Both are read when a table is built, at start and at every reload of a changed routes file,
so a recipient added with a secret in a file of its own needs no restart. A secret's value
never appears in a message: only the variable's or the file's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The value a secret takes when secrets are not read (`relay routes check --no-secrets`):
# what is named is checked, not what it holds.
NOT_READ = "(not read)"


@dataclass(frozen=True)
class SecretReader:
    environ: Mapping[str, str]
    base: Path  # relative secret files are found from here (the routes file's directory)
    read: bool = True  # False: a named secret counts as present, and is not read

    def get(
        self, env: str | None, file: str | None, where: str, field: str, problems: list[str]
    ) -> str | None:
        """The secret named by `<field>_env` or `<field>_file`; None if neither names one.

        A variable that is not set, or a file that cannot be read or is empty, is a problem
        appended to `problems` (naming `where` and the field)."""
        if env is not None:
            return self._from_env(env, f"{where}.{field}_env", problems)
        if file is not None:
            return self._from_file(file, f"{where}.{field}_file", problems)
        return None

    def _from_env(self, name: str, where: str, problems: list[str]) -> str | None:
        if not self.read:
            return NOT_READ
        value = self.environ.get(name)
        if not value:
            problems.append(f"{where}: environment variable {name} is not set")
        return value

    def _from_file(self, name: str, where: str, problems: list[str]) -> str | None:
        path = Path(name) if Path(name).is_absolute() else self.base / name
        if not self.read:
            return NOT_READ
        try:
            value = path.read_text("utf-8").strip()
        except OSError as error:
            problems.append(f"{where}: cannot read {path} ({error.strerror})")
            return None
        except UnicodeDecodeError:
            problems.append(f"{where}: {path} is not UTF-8 text")
            return None
        if not value:
            problems.append(f"{where}: {path} is empty")
            return None
        return value
