"""The typography judge family: summary["typography"] (typography error counts per model) through
the evalsuite.family.JudgeFamily interface, so the core never names the OCR judge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalsuite.family import JudgeFamily
from evalsuite.judge import Judge


class TypographyFamily(JudgeFamily):
    """OCR judges (family = "typography"): per judge and role, the error classes of every image
    judged (judges.typo_errors.aggregate_error_counts over the exact_match verdicts' detail)."""

    name = "typography"

    def summary_section(self, store: Any, judges: Sequence[Judge]) -> dict[str, Any] | None:
        from judges.typo_errors import aggregate_error_counts

        out: dict[str, dict[str, Any]] = {}
        for judge in judges:
            per_role = {}
            for role in store.roles():
                rows = [v["detail"] for v in store.verdicts_for(role, [judge.judge_id()])
                        if v["metric"] == "exact_match" and v["ok"]]
                if rows:
                    per_role[role] = aggregate_error_counts(rows)
            if per_role:
                out[judge.name] = per_role
        return out or None

    def console(self, summary: dict[str, Any]) -> list[Any]:
        """One table: per judge and role, the images, those with errors and each class's errors."""
        from rich.table import Table

        section = summary.get(self.name) or {}
        rows = [(judge, role, e) for judge, per_role in section.items() for role, e in per_role.items()]
        if not rows:
            return []
        classes = list(rows[0][2]["errors"])
        t = Table(title="Typography errors (text as written; images with one in brackets)", title_justify="left")
        for col in ("judge", "model", "images", "with errors", *classes):
            t.add_column(col, justify="left" if col in ("judge", "model") else "right")
        for judge, role, e in rows:
            t.add_row(judge, role, str(e["images"]), str(e["images_with_errors"]),
                      *(f"{e['errors'][c]} ({e['images_with'][c]})" for c in classes))
        return [t]

