"""Parity metrics: each public benchmark's official score, computed as its own scoring code does.

Pure functions (no model, no I/O), one module per benchmark family; docs/parity.md lists, per
benchmark, what is reproduced exactly and what differs. Named metrics: `METRICS`.
"""

from __future__ import annotations

# metric name -> "module:function" (the function that gives the benchmark-level number)
METRICS: dict[str, str] = {
    "longtext.text_accuracy": "judges.parity.text:longtext_text_accuracy",
    "oneig.text": "judges.parity.text:oneig_text_score",
    "oneig.diversity": "judges.parity.diversity:oneig_diversity",
    "cvtg.word_accuracy": "judges.parity.text:cvtg_scores",
    "cvtg.ned": "judges.parity.text:cvtg_scores",
    "gedit.sc": "judges.parity.gedit:gedit_aggregate",
    "gedit.pq": "judges.parity.gedit:gedit_aggregate",
    "gedit.o": "judges.parity.gedit:gedit_aggregate",
    "dpg.score": "judges.parity.dpg:dpg_aggregate",
    "geneval.overall": "judges.parity.geneval:geneval_aggregate",
    "clip.score": "judges.parity.clipscore:clip_score",
}
