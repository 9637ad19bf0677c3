"""Hypothesis strategies for report documents: valid ones per type, and mutations of them.

Valid documents are built by hand from the protocol's schemas (not generated from them), and
the mutations aim at the rules: required fields left out, wrong types, null, strings that
break a pattern only in ECMA-262 or only in Python's `re`, unknown fields (some named like
the models' Python attributes or pydantic internals), empty and overfull arrays.

Strings never hold U+0000 or lone surrogates: intake refuses those before any schema is
asked (`intake.parsing`), so they are outside what the schema and the models must agree on.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from intake.meldingstyper import OFFENTLIG_V1, OFFENTLIG_V2, PRIVAT_V1, PRIVAT_V2

LINE_BREAKS = "\n\r\u2028\u2029"
TRICKY = (
    "",
    " ",
    "0301",
    "4601",
    "02",
    "4601\n",
    "\n4601",
    "٤٦٠١",  # Arabic-Indic digits: `\d` in Python's re, not in ECMA-262
    "४६०१",  # Devanagari digits
    "46011",
    "461",
    "0 2",
    "a\nb",
    "line\n",
    "a\rb",
    "a\u2028b",
    "a\u2029",
    "Ærlig Østby-Åsen",
    "👶🏽 Barn",
    "مرحبا بالعالم",  # right-to-left
    "שלום עולם",
    "+4799999999",
    "99 99 99 99",
    "99-99",
    "+47-",
    "12\n",
    "ola@nav.no",
    "lærer@skole.no",
    "x_y-z@sub.skole.com",
    "a@b.c",
    "a..b@c.no",
    "a@b.no\n",
    "true",
    "null",
    "2020-03-17T00:31:56",
    "\t",
    "\u00a0",
    "\ufeff",
)
EXTRA_KEYS = (
    "ukjentFelt",
    "privat_melder",
    "privat_barn",
    "antatt_alder",
    "offentlig_melder",
    "offentlig_barn",
    "orientert_grunn",
    "behov_for_tolk",
    "andre_synspunkter",
    "andreSynspunkter",
    "privatBarn",
    "offentligBarn",
    "model_config",
    "model_fields",
    "model_extra",
    "__class__",
    "__dict__",
    "__pydantic_extra__",
    "__fields_set__",
    "schema",
    "json",
    "copy",
    "",
)

_characters = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
text = st.text(_characters, max_size=12)
any_string = st.one_of(st.sampled_from(TRICKY), text)
one_line = st.one_of(
    st.sampled_from([s for s in TRICKY if not any(c in s for c in LINE_BREAKS)]),
    st.text(st.characters(exclude_characters="\x00" + LINE_BREAKS, exclude_categories=["Cs"])),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_string,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(EXTRA_KEYS) | text, children, max_size=3)
    ),
    max_leaves=6,
)


_digits = "0123456789"
kommunenummer = st.text(_digits, min_size=4, max_size=4)
bydelsnummer = st.text(_digits, min_size=2, max_size=2)
telefonnummer = st.builds(
    lambda plus, groups, separator: plus + separator.join(groups),
    st.sampled_from(("", "+")),
    st.lists(st.text(_digits, min_size=1, max_size=4), min_size=1, max_size=4),
    st.sampled_from((" ", "-")),
)
_epost_part = st.text("abcxyzæøåÆØÅ019-_", min_size=1, max_size=6)
_domain_part = st.text("abcæøå019-", min_size=1, max_size=6)
epost = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    _epost_part,
    _domain_part,
    st.text("abcdefgNOXYZ", min_size=2, max_size=4),
)

adresse = st.fixed_dictionaries(
    {"adresselinje1": any_string},
    optional={key: any_string for key in ("adresselinje2", "adresselinje3", "postnummer")}
    | {"poststed": any_string},
)

_top = {
    "kommunenummer": kommunenummer,
    "bydelsnummer": bydelsnummer,
    "sendingstidspunkt": any_string,
    "leveringskanal": any_string,
}

privat = st.fixed_dictionaries(
    {
        **_top,
        "kommunenavn": any_string,
        "bydelsnavn": any_string,
        "privatMelder": st.fixed_dictionaries(
            {"personnavn": any_string},
            optional={"telefonnummer": telefonnummer, "adresse": adresse},
        ),
        "privatBarn": st.lists(
            st.fixed_dictionaries(
                {"personnavn": any_string, "adresse": adresse},
                optional={"antattAlder": any_string, "relasjon": any_string},
            ),
            max_size=2,
        ),
        "melding": any_string,
    }
)

_foresatt = st.fixed_dictionaries(
    {"personnavn": one_line, "orientert": st.booleans()},
    optional={"telefonnummer": one_line, "orientertGrunn": one_line},
)
_offentlig_barn = st.fixed_dictionaries(
    {
        "fnr": any_string,
        "ufoedt": st.booleans(),
        "personnavn": one_line,
        "adresse": adresse,
        "orientert": st.booleans(),
    },
    optional={"telefonnummer": any_string, "orientertGrunn": one_line},
)
_offentlig_melder = st.fixed_dictionaries(
    {
        "personnavn": one_line,
        "rolle": one_line,
        "telefonnummer": telefonnummer,
        "epost": epost,
        "virksomhet": st.fixed_dictionaries(
            {"navn": one_line, "adresse": adresse}, optional={"orgnr": one_line}
        ),
    }
)


def _offentlig(melding: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            **_top,
            "kommunenavn": one_line,
            "bydelsnavn": one_line,
            "offentligMelder": _offentlig_melder,
            "offentligBarn": st.lists(_offentlig_barn, min_size=1, max_size=2),
            "foresatte": st.lists(_foresatt, min_size=1, max_size=2),
            "melding": melding,
        },
        optional={"behovForTolk": any_string, "andreHjelpeinstanser": any_string},
    )


_melding_v1 = st.fixed_dictionaries({"melding": any_string, "historie": any_string})
_melding_v2 = st.fixed_dictionaries(
    {"melding": any_string, "historie": any_string}, optional={"andreSynspunkter": any_string}
)

VALID_DOCUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    PRIVAT_V1: privat,
    PRIVAT_V2: privat,
    OFFENTLIG_V1: _offentlig(_melding_v1),
    OFFENTLIG_V2: _offentlig(_melding_v2),
}


def nodes(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every (path, value) in a JSON value, the root first."""
    found = [(path, value)]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(nodes(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(nodes(child, (*path, index)))
    return found


def _set(document: Any, path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


MUTATIONS = (
    "delete",
    "retype",
    "retype",
    "retype",
    "null",
    "replace",
    "string",
    "extra",
    "empty",
    "grow",
    "root",
)
OTHER_TYPES: tuple[Any, ...] = (None, True, False, 0, 7, 1.5, "", "x", [], {}, ["x"], {"x": 1})


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A valid document with up to three mutations applied (none, a fifth of the time)."""
    document: Any = copy.deepcopy(draw(valid))
    count = draw(st.sampled_from((0, 1, 1, 2, 3)))
    for kind in draw(st.lists(st.sampled_from(MUTATIONS), min_size=count, max_size=count)):
        children = [(path, value) for path, value in nodes(document) if path]
        containers = [(p, v) for p, v in nodes(document) if isinstance(v, dict | list)]
        if kind == "root":
            document = draw(json_values)
        elif kind == "extra":
            objects = [(p, v) for p, v in containers if isinstance(v, dict)]
            if objects:
                _path, extended = draw(st.sampled_from(objects))
                extended[draw(st.sampled_from(EXTRA_KEYS) | text)] = draw(json_values)
        elif kind in ("empty", "grow") and containers:
            path, target = draw(st.sampled_from(containers))
            if kind == "empty":
                document = _set(document, path, type(target)())
            elif isinstance(target, list) and target:
                target.append(copy.deepcopy(draw(st.sampled_from(target))))
        elif children:
            path, old = draw(st.sampled_from(children))
            if kind == "delete":
                parent = document
                for step in path[:-1]:
                    parent = parent[step]
                del parent[path[-1]]
            elif kind == "retype":
                others = [v for v in OTHER_TYPES if type(v) is not type(old)]
                document = _set(document, path, copy.deepcopy(draw(st.sampled_from(others))))
            else:
                replacement = {"null": st.none(), "replace": json_values, "string": any_string}
                document = _set(document, path, draw(replacement.get(kind, json_values)))
    return document
