"""The KS message types that carry a report."""

from __future__ import annotations

PRIVAT_V1 = "no.ks.fiks.bekymringsmelding.privat.v1"
PRIVAT_V2 = "no.ks.fiks.bekymringsmelding.privat.v2"
OFFENTLIG_V1 = "no.ks.fiks.bekymringsmelding.offentlig.v1"
OFFENTLIG_V2 = "no.ks.fiks.bekymringsmelding.offentlig.v2"

MELDINGSTYPER: tuple[str, ...] = (PRIVAT_V1, PRIVAT_V2, OFFENTLIG_V1, OFFENTLIG_V2)
