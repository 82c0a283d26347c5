"""The VLM judge family: its flags, summary["vlm"], calibration and console lines, through the
evalsuite.family.JudgeFamily interface (the core never names it)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from evalsuite.family import JudgeFamily
from evalsuite.judge import Judge
from evalsuite.types import EvalsuiteError


class VLMFamily(JudgeFamily):
    name = "vlm"
    calibrates = True

    def add_arguments(self, parser: argparse.ArgumentParser, run: bool = False) -> None:
        from judges.vlm import add_arguments

        add_arguments(parser)
        if run and not any("--vlm-calibrate" in a.option_strings for a in parser._actions):
            g = next((g for g in parser._action_groups if g.title and g.title.startswith("VLM judges")), parser)
            g.add_argument("--vlm-calibrate", type=int, metavar="N", default=None,
                           help="after the run, judge N known good/bad calibration pairs from the pack with "
                           "each selected VLM judge and report its accuracy in summary.json (cached in the run)")

    def judge_options(self, args: argparse.Namespace) -> dict[str, Any]:
        from judges.vlm import common_options

        return common_options(args)

    def calibrate_count(self, args: argparse.Namespace, judge_names: Sequence[str]) -> int | None:
        n = getattr(args, "vlm_calibrate", None)
        if n is None:
            return None
        if n < 1:
            raise EvalsuiteError(f"--vlm-calibrate {n}: expected a number of pairs >= 1")
        if not any(self.is_member(j) for j in judge_names):
            raise EvalsuiteError("--vlm-calibrate needs a VLM judge: add --judges vlm-t2i (or vlm-edit, vlm-pairwise)")
        return n

    def summary_section(self, store: Any, judges: Sequence[Judge]) -> dict[str, Any] | None:
        from judges.vlm.run_summary import breakdown

        return breakdown(store, judges) or None

    def calibration(self, store: Any, pack: Any, judges: Sequence[Judge], n: int,
                    retry_failed: bool = False) -> dict[str, Any]:
        from judges.vlm.run_summary import calibrate_run

        return calibrate_run(store, pack, judges, n, retry_failed=retry_failed)

    def console(self, summary: dict[str, Any]) -> list[Any]:
        from rich.table import Table

        out: list[Any] = []
        for judge, per_role in summary.get(self.name, {}).items():
            for role, e in per_role.items():
                if "win" not in e:
                    continue
                cats = ", ".join(f"{c} {k}" for c, k in e["categories"]["loss"].items()) or "—"
                rates = ""
                if e.get("win_rate") is not None:
                    lo, hi = e["win_rate_ci"]
                    rates = (f" (win rate {e['win_rate']:.0%} [{lo:.0%}, {hi:.0%}] over {e['n_cases']} cases, "
                             f"ties as half; tie rate {e['tie_rate']:.0%})")
                out.append(escape(f"{judge} ({role} vs teacher): {e['win']} win · {e['tie']} tie · "
                                  f"{e['loss']} loss · {e['failures']} failed{rates}; where the {role} lost: {cats}"))
        cal = {k: r for k, r in summary.get("calibration", {}).items() if self.is_member(k)}
        if not cal:
            return out
        t = Table(title="VLM judge calibration (known good/bad pairs)", title_justify="left")
        for col in ("judge", "accuracy", "n", "failures", "per defect (correct/n)"):
            t.add_column(col, justify="left" if col in ("judge", "per defect (correct/n)") else "right")
        for name, r in cal.items():
            acc = "—" if r.get("accuracy") is None else f"{r['accuracy']:.2f}"
            per = ", ".join(f"{d} {x['correct']}/{x['n']}" for d, x in r.get("per_defect", {}).items())
            f = int(r.get("failures") or 0)
            t.add_row(name, acc, str(r.get("n", 0)), f"[red]{f}[/]" if f else "0", per or r.get("skipped", ""))
        out.append(t)
        return out

    def extra_failures(self, summary: dict[str, Any]) -> int:
        from judges.vlm.run_summary import calibration_failures

        return calibration_failures({k: r for k, r in summary.get("calibration", {}).items() if self.is_member(k)})
