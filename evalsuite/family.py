"""Judge families: plugins that own a group of judges (e.g. the model-based judges sharing one
server) and contribute, through this one interface, CLI options, a summary.json section, a
calibration and console lines. The CLI, runner and summary loop over the registered families
(evalsuite.registry.FAMILIES) and never name one. See docs/contracts.md.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from typing import Any, ClassVar

from evalsuite.judge import Judge


class JudgeFamily:
    """Base of a family; every hook has a do-nothing default. A judge belongs to the family whose
    `name` its class declares as `family`."""

    name: ClassVar[str]              # summary.json key of the family's section
    calibrates: ClassVar[bool] = False

    def members(self, judges: Sequence[Judge]) -> list[Judge]:
        return [j for j in judges if getattr(j, "family", None) == self.name]

    def is_member(self, judge_name: str) -> bool:
        """Whether the registered judge `judge_name` belongs to this family (imports its class)."""
        from evalsuite.registry import JUDGES

        return getattr(JUDGES.get(judge_name), "family", None) == self.name

    # --- CLI ------------------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser, run: bool = False) -> None:
        """Add the family's flags (run=True: also the flags only `evalsuite run` has)."""

    def judge_options(self, args: argparse.Namespace) -> dict[str, Any]:
        """Options the flags give every member judge (explicit --judge-opt wins)."""
        return {}

    def calibrate_count(self, args: argparse.Namespace, judge_names: Sequence[str]) -> int | None:
        """Calibration pairs requested by the flags (validated against the selected judges)."""
        return None

    def console(self, summary: dict[str, Any]) -> list[Any]:
        """rich renderables printed after the summary table."""
        return []

    def extra_failures(self, summary: dict[str, Any]) -> int:
        """Failures recorded outside the metrics (e.g. in calibration) that fail the run's exit code."""
        return 0

    # --- run ------------------------------------------------------------------------------
    def summary_section(self, store: Any, judges: Sequence[Judge]) -> dict[str, Any] | None:
        """summary[self.name]: run-level data beyond the metric means, for the member `judges`."""
        return None

    def calibration(self, store: Any, pack: Any, judges: Sequence[Judge], n: int,
                    retry_failed: bool = False) -> dict[str, Any]:
        """{judge name: report} measured on `n` known good/bad pairs of the whole `pack`, cached
        through `store` (RunStore.get_record / put_record)."""
        return {}


@functools.cache
def families() -> tuple[JudgeFamily, ...]:
    """One instance of every registered family."""
    from evalsuite.registry import FAMILIES

    return tuple(FAMILIES.get(n)() for n in FAMILIES.names())
