"""The typography judge family: registered, owns the OCR judge, counts error classes per role
(summary["typography"]) and prints them. End to end with the real engine: tests/core/test_cli_score.py."""

from __future__ import annotations

from rich.console import Console

from evalsuite.family import families
from evalsuite.registry import FAMILIES
from judges.ocr import OCRJudge, ocr_scores
from judges.ocr_family import TypographyFamily


class _Store:
    """Test double for RunStore.roles / verdicts_for (the real store: test_cli_score)."""

    def __init__(self, rows: dict[str, list[dict]]) -> None:
        self.rows = rows

    def roles(self) -> list[str]:
        return list(self.rows)

    def verdicts_for(self, role: str, judge_ids=None):
        return [v for v in self.rows[role] if judge_ids is None or v["judge_id"] in judge_ids]


def _verdicts(jid: str, reads: list[tuple[str, str]], ok: bool = True) -> list[dict]:
    out = []
    for expected, read in reads:
        values, detail = ocr_scores([expected], read)
        out += [{"judge_id": jid, "metric": m, "ok": ok, "detail": detail} for m in values]
    return out


def test_family_counts_error_classes_per_role() -> None:
    assert FAMILIES.get("typography") is TypographyFamily
    fam = next(f for f in families() if f.name == "typography")
    j = OCRJudge()
    assert fam.is_member("ocr") and fam.members([j]) == [j] and not fam.is_member("flatbg")
    jid = j.judge_id()
    store = _Store({
        "student": _verdicts(jid, [("$9.99", "$999"), ("SALE 50% OFF", "sale 50 OFF"), ("OPEN", "OPEN")])
        + _verdicts(jid, [("EXIT", "EX")], ok=False)          # failed verdicts are not counted
        + _verdicts("other@v1:x", [("A", "B")]),              # another judge's verdicts neither
        "teacher": _verdicts(jid, [("$9.99", "$9.99")]),
        "empty": [],
    })
    sec = fam.summary_section(store, [j])
    assert set(sec) == {"ocr"} and set(sec["ocr"]) == {"student", "teacher"}
    s = sec["ocr"]["student"]
    assert s["images"] == 3 and s["images_with_errors"] == 2
    assert {k: n for k, n in s["errors"].items() if n} == {"punctuation": 2, "case": 1}
    assert s["images_with"]["punctuation"] == 2 and s["images_with"]["case"] == 1
    assert sec["ocr"]["teacher"]["images"] == 1 and sec["ocr"]["teacher"]["images_with_errors"] == 0
    assert fam.summary_section(_Store({"student": []}), [j]) is None
    con = Console(width=200, record=True)
    for line in fam.console({"typography": sec}):
        con.print(line)
    text = con.export_text()
    assert "Typography errors" in text and "punctuation" in text
    row = next(ln for ln in text.splitlines() if "student" in ln)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells == ["ocr", "student", "3", "2", "0 (0)", "0 (0)", "0 (0)", "1 (1)", "2 (2)", "0 (0)", "0 (0)"]
    assert fam.console({}) == []
