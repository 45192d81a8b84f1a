"""Informational check: which isomer of MK-7 the label states.

Only the all-trans form of MK-7 is biologically active; cis isomers (made by some synthesis
routes, and by light) are reported as inactive. The check passes when the label states the
all-trans form ("all-trans", "trans-MK-7", "cis-free", the all-trans brand K2VITAL DELTA),
fails when it states a cis form or a cis/trans mixture, and does not apply when the label
is silent. It reads the vitamin K lines (name, source, the line as printed), the other
ingredients and the product name. Weight 0 in the default protocol: it changes no score.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline import nutrients as nt
from pipeline.rules.base import Assessment, Derived, Expect, ProtocolRule
from pipeline.values import text

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.protocol import Protocol

ALL_TRANS, CIS, CIS_TRANS = "all-trans", "cis", "cis/trans"

# The patterns read the label's text lower-cased.
_MK7 = r"(?:mk|menaquinone)[\s-]*7"
#: A cis isomer said to be absent ("cis-free", "free of cis isomers", "0% cis").
_NO_CIS = re.compile(
    r"\bcis[\s-]*free\b|\b(?:free\s+(?:of|from)|no|without|non|0\s*%)[\s-]*(?:any\s+)?cis\b"
)
_MIXTURE = re.compile(
    r"\bcis\s*(?:[/&+,-]|and|or)\s*(?:\w+[\s-]+)?trans\b|\btrans\s*(?:[/&+,-]|and|or)\s*cis\b"
)
_CIS = re.compile(r"\bcis\b")
_TRANS = re.compile(
    rf"\ball[\s-]*trans\b|\btrans[\s-]*{_MK7}\b|\b100\s*%\s*trans\b|\bk2\s*vital\s*[®™]?\s*delta\b"
)
#: Evidence longer than this is cut (with "...") around what was found.
_EVIDENCE_CHARS = 120


def isomer_stated(texts: Sequence[str]) -> tuple[str | None, str | None]:
    """(ALL_TRANS, CIS, CIS_TRANS or None, the text that says it) of a label's texts: a
    cis form named anywhere wins over an all-trans claim (a mixture is a cis form too)."""
    found: dict[str, str] = {}
    for said in texts:
        low = said.lower()
        rest = _NO_CIS.sub(" ", low)
        if _MIXTURE.search(rest):
            found.setdefault(CIS_TRANS, said)
        elif _CIS.search(rest):
            found.setdefault(CIS, said)
        elif _TRANS.search(low) or rest != low:
            found.setdefault(ALL_TRANS, said)
    for isomer in (CIS_TRANS, CIS, ALL_TRANS):
        if isomer in found:
            return isomer, _short(found[isomer])
    return None, None


def _short(said: str) -> str:
    said = " ".join(said.split())
    return said if len(said) <= _EVIDENCE_CHARS else said[: _EVIDENCE_CHARS - 3] + "..."


def _label_texts(products: pd.DataFrame, nutrients: pd.DataFrame) -> list[list[str]]:
    """Per product (in order): its vitamin K lines' texts, other ingredients and name."""
    k_rows = nutrients.loc[
        nutrients["nutrient"].isin([nt.VITAMIN_K2, nt.VITAMIN_K]),
        [c for c in ("product_id", "name_raw", "form_raw", "raw_text") if c in nutrients],
    ]
    by_product: dict[str, list[str]] = {}
    for row in k_rows.to_dict("records"):
        texts = by_product.setdefault(str(row["product_id"]), [])
        texts.extend(t for t in (text(row.get(c)) for c in ("name_raw", "form_raw")) if t)
        texts.append(text(row.get("raw_text")))
    return [
        [*by_product.get(str(pid), []), text(other), text(name)]
        for pid, other, name in zip(
            products["product_id"].tolist(),
            products["other_ingredients"].tolist(),
            products["product_name"].tolist(),
            strict=True,
        )
    ]


#: The products-table columns it adds (and reads): the isomer stated, and the text that says it.
_COLUMNS = (("k2_isomer", "str"), ("k2_isomer_evidence", "str"))


def _isomers(products: pd.DataFrame, nutrients: pd.DataFrame) -> dict[str, list[Any]]:
    found = [isomer_stated([t for t in ts if t]) for ts in _label_texts(products, nutrients)]
    return {"k2_isomer": [i for i, _ in found], "k2_isomer_evidence": [e for _, e in found]}


#: Its expectation (the same whatever the protocol).
_EXPECT = Expect(
    "in_set",
    "k2_isomer",
    "Only all-trans MK-7 is biologically active; cis isomers are reported as inactive.",
    "Where the label names the isomer of its MK-7, it must be all-trans.",
    value_set=(ALL_TRANS,),
)


def _assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    isomer, said = p["k2_isomer"], text(p["k2_isomer_evidence"])
    inactive = "cis isomers are reported as biologically inactive; the protocol asks all-trans"
    if isomer == ALL_TRANS:
        return 1.0, f'the label states the all-trans form of its vitamin K2: "{said}"'
    if isomer == CIS_TRANS:
        return 0.0, f'the label states a cis/trans mixture of its vitamin K2: "{said}"; {inactive}'
    if isomer == CIS:
        return 0.0, f'the label states a cis form of its vitamin K2: "{said}"; {inactive}'
    return 0.0, "the label does not say whether its vitamin K2 is all-trans or cis"


RULES = (
    ProtocolRule(
        name="k2_isomer",
        label="MK-7 stated as all-trans",
        short="All-trans",
        order=80,
        inputs=tuple(column for column, _ in _COLUMNS),
        expect=lambda protocol: [_EXPECT],
        assess=_assess,
        methodology=lambda protocol: (
            'Where the label names the isomer of its MK-7: all-trans passes ("all-trans", '
            '"trans-MK-7", "cis-free", K2VITAL DELTA), a cis form or a cis/trans mixture fails '
            "(cis isomers are reported as biologically inactive); not assessed when the label "
            "is silent."
        ),
        derived=(Derived(_COLUMNS, _isomers),),
    ),
)
