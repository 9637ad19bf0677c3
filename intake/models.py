"""Typed access to the four report documents of the KS protocol.

Each model follows its JSON Schema field for field, and is neither stricter nor looser
(`tests/unit/test_models_match_schemas.py` proves it against the schema for thousands of
generated documents): strict types (no "true" for true, no 1 for "1"), a field the schema
lists but does not require may be left out but is never null, `pattern` in the ECMA-262
dialect, and fields the schema does not know are kept (`extra="allow"`).

The schema stays the rule of acceptance (`intake.schemas`); these models are how the code
reads a document that has passed it. What a case system receives is the portal's document,
never a dump of these models.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from intake.ecma_regex import searcher
from intake.meldingstyper import OFFENTLIG_V1, OFFENTLIG_V2, PRIVAT_V1, PRIVAT_V2


def _pattern(pattern: str) -> AfterValidator:
    matches = searcher(pattern)

    def check(value: str) -> str:
        if not matches(value):
            raise ValueError(f"must match the pattern {pattern}")
        return value

    return AfterValidator(check)


Kommunenummer = Annotated[str, _pattern(r"^\d{4}$")]
Bydelsnummer = Annotated[str, _pattern(r"^[0-9]{2}$")]
Telefonnummer = Annotated[str, _pattern(r"^[+]?[0-9]+([- ][0-9]+)*$")]
Epost = Annotated[
    str,
    _pattern(
        r"^[A-Za-zæøåÆØÅ0-9-_]+(\.[A-Za-zæøåÆØÅ0-9-_]+)*@[A-Za-zæøåÆØÅ0-9-]+"
        r"(\.[A-Za-zæøåÆØÅ0-9-]+)*(\.[A-Za-z]{2,})$"
    ),
]
Linje = Annotated[str, _pattern(r"^(.*)$")]
"""One line of text: the `offentlig` schemas' `^(.*)$` (no CR, LF, U+2028 or U+2029)."""


class KsModel(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="allow",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=False,
        hide_input_in_errors=True,  # errors must never carry report content
    )

    @model_validator(mode="before")
    @classmethod
    def _left_out_but_never_null(cls, data: Any) -> Any:
        """JSON Schema lets an optional property be absent, not null; no property here is
        nullable, so a null is refused for every field the model knows."""
        if isinstance(data, dict):
            for key in _field_keys(cls):
                if key in data and data[key] is None:
                    raise ValueError(f"{key} must not be null")
        return data


@cache
def _field_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The document's key for each field of `model`, found once per model."""
    return tuple(info.alias or name for name, info in model.model_fields.items())


class Adresse(KsModel):
    adresselinje1: str
    adresselinje2: str | None = None
    adresselinje3: str | None = None
    postnummer: str | None = None
    poststed: str | None = None


# -- privat (v1 and v2 have the same rules) ----------------------------------------------


class PrivatMelder(KsModel):
    personnavn: str
    telefonnummer: Telefonnummer | None = None
    adresse: Adresse | None = None


class PrivatBarn(KsModel):
    personnavn: str
    antatt_alder: str | None = None
    relasjon: str | None = None
    adresse: Adresse


class PrivatBekymringsmeldingV1(KsModel):
    kommunenummer: Kommunenummer
    kommunenavn: str
    bydelsnummer: Bydelsnummer
    bydelsnavn: str
    privat_melder: PrivatMelder
    privat_barn: list[PrivatBarn]  # the schema's `minLength: 1` does not apply to arrays
    melding: str
    sendingstidspunkt: str  # `format: date-time` is an annotation; see intake.tidspunkt
    leveringskanal: str


class PrivatBekymringsmeldingV2(PrivatBekymringsmeldingV1):
    pass


# -- offentlig ------------------------------------------------------------------------------


class Foresatt(KsModel):
    personnavn: Linje
    telefonnummer: Linje | None = None
    orientert: bool
    orientert_grunn: Linje | None = None


class Virksomhet(KsModel):
    navn: Linje
    orgnr: Linje | None = None
    adresse: Adresse


class OffentligMelder(KsModel):
    personnavn: Linje
    rolle: Linje
    telefonnummer: Telefonnummer
    epost: Epost
    virksomhet: Virksomhet


class OffentligBarn(KsModel):
    fnr: str
    ufoedt: bool
    personnavn: Linje
    telefonnummer: str | None = None
    adresse: Adresse
    orientert: bool
    orientert_grunn: Linje | None = None


class OffentligMeldingV1(KsModel):
    melding: str
    historie: str


class OffentligMeldingV2(OffentligMeldingV1):
    andre_synspunkter: str | None = None


class OffentligBekymringsmeldingV1(KsModel):
    kommunenummer: Kommunenummer
    kommunenavn: Linje
    bydelsnummer: Bydelsnummer
    bydelsnavn: Linje
    offentlig_melder: OffentligMelder
    offentlig_barn: Annotated[list[OffentligBarn], Field(min_length=1)]
    foresatte: Annotated[list[Foresatt], Field(min_length=1, max_length=2)]
    behov_for_tolk: str | None = None
    andre_hjelpeinstanser: str | None = None
    melding: OffentligMeldingV1
    sendingstidspunkt: str
    leveringskanal: str


class OffentligBekymringsmeldingV2(OffentligBekymringsmeldingV1):
    melding: OffentligMeldingV2


Bekymringsmelding = (
    PrivatBekymringsmeldingV1
    | PrivatBekymringsmeldingV2
    | OffentligBekymringsmeldingV1
    | OffentligBekymringsmeldingV2
)

MODELS: dict[str, type[Bekymringsmelding]] = {
    PRIVAT_V1: PrivatBekymringsmeldingV1,
    PRIVAT_V2: PrivatBekymringsmeldingV2,
    OFFENTLIG_V1: OffentligBekymringsmeldingV1,
    OFFENTLIG_V2: OffentligBekymringsmeldingV2,
}


def model_for(meldingstype: str) -> Callable[[Any], Bekymringsmelding]:
    """`model_validate` of the message type's model. Raises `pydantic.ValidationError`."""
    return MODELS[meldingstype].model_validate
