"""Hypothesis profiles: "dev" (the default) for a developer's run, "ci" for the full counts.

Choose with HYPOTHESIS_PROFILE (CI sets "ci"). A property test names its full count with
`examples(full)`; under "ci" it runs exactly that many, under "dev" a fifth (at least 10),
so that `pytest tests/unit` is quick on a laptop and CI still searches as hard as before.
"""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
FULL_DEFAULT = 100  # hypothesis' own default: a test without a count of its own runs this many
DEV_SHARE = 5  # dev runs one in DEV_SHARE of the full count
DEV_MINIMUM = 10


def register_profiles() -> None:
    settings.register_profile("ci", max_examples=FULL_DEFAULT, print_blob=True)
    settings.register_profile("dev", max_examples=FULL_DEFAULT // DEV_SHARE)


def load_profile() -> str:
    """Load the profile HYPOTHESIS_PROFILE names ("dev" when unset); returns its name."""
    name = os.environ.get(PROFILE_VARIABLE) or "dev"
    settings.load_profile(name)
    return name


def examples(full: int) -> int:
    """The number of examples to run for a test whose full count is `full`.

    Read from the loaded profile: its default count against hypothesis' own (100) is the
    share of `full` to run, so `--hypothesis-profile` on the command line is honoured too.
    """
    share = settings().max_examples / FULL_DEFAULT
    return max(min(DEV_MINIMUM, full), round(full * share))
