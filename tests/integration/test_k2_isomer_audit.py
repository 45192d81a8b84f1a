"""The k2_isomer check end to end on the sample labels: the Nikken BDZ PDF states a cis
form of its vitamin K2 (fails, its reason on the card); the other labels are silent."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.test_audit_golden import run_sample_audit


def test_sample_audit_bdz_states_a_cis_form(tmp_path: Path) -> None:
    """End to end: the GX outcome, the reason in audit.json and in the product's card; the
    label-silent products are not assessed."""
    audit = run_sample_audit(tmp_path)
    outcomes = {
        (p["source_file"], p["product_name"], c["passed"])
        for p in audit["products"]
        for c in p["checks"]
        if c["name"] == "k2_isomer"
    }
    cis = "pdf/nikken-bdz-and-calcium-complex.pdf", "BDZ", False
    assert cis in outcomes
    assert {passed for *_, passed in outcomes - {cis}} == {None}
    detail = (
        'the label states a cis form of its vitamin K2: "vitamin K2 (cis form)"; cis isomers '
        "are reported as biologically inactive; the protocol asks all-trans"
    )
    (bdz,) = [
        p for p in audit["products"] if p["product_name"] == "BDZ" and p["source_file"] == cis[0]
    ]
    assert [c["detail"] for c in bdz["checks"] if c["name"] == "k2_isomer"] == [detail]
    assert audit["methodology"]["protocol"]["weights"]["k2_isomer"] == 0
    page = (tmp_path / "reports" / "audit.html").read_text(encoding="utf-8")
    card = re.search(r"Protocol checks of BDZ</caption>.*?</table>", page, re.S)
    assert card is not None
    assert "MK-7 stated as all-trans" in card.group(0)
    assert detail.replace('"', "&#34;") in card.group(0)
