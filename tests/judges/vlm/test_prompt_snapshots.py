"""Judge prompts are frozen: the rendered prompt and the reply constraint of every VLM judge must
equal the stored snapshot. Changing a prompt changes every verdict it produces, so do it as a new
template file (prompts/<name>_v2.txt) with a new judge `prompt_name`/version, then regenerate the
snapshots with `EVALSUITE_UPDATE_SNAPSHOTS=1 pytest tests/judges/vlm/test_prompt_snapshots.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evalsuite.types import Case
from judges.vlm.common import load_prompt, render_prompt, reply_regex
from judges.vlm.edit import FIELDS as EDIT_FIELDS
from judges.vlm.pairwise import FIELDS as PAIR_FIELDS
from judges.vlm.t2i import FIELDS as T2I_FIELDS
from judges.vlm.t2i import t2i_prompt

SNAP = Path(__file__).parent / "snapshots"
CASE = Case("snap", "t2i", 'A poster with the word "HARVEST" on a cream background.', (0,),
            expected_text=("HARVEST",))


def rendered() -> dict[str, str]:
    return {
        "t2i_v1": t2i_prompt(CASE) + "\n---\n" + reply_regex(T2I_FIELDS) + "\n",
        "edit_v1": render_prompt("edit_v1", prompt="Make the sign red.") + "\n---\n" + reply_regex(EDIT_FIELDS) + "\n",
        "pairwise_v1": render_prompt("pairwise_v1", prompt=CASE.prompt) + "\n---\n" + reply_regex(PAIR_FIELDS) + "\n",
        "yesno_v1": render_prompt("yesno_v1", question="Is there a poster?") + "\n",
    }


@pytest.mark.parametrize("name", ["t2i_v1", "edit_v1", "pairwise_v1", "yesno_v1"])
def test_prompt_matches_snapshot(name):
    text = rendered()[name]
    path = SNAP / f"{name}.txt"
    if os.environ.get("EVALSUITE_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing snapshot {path}"
    assert text == path.read_text(encoding="utf-8"), (
        f"prompt {name} changed: add a new template version instead of editing it (see module docstring)")


def test_prompt_hashes_are_distinct_and_stable():
    hashes = {n: load_prompt(n)[1] for n in ("t2i_v1", "edit_v1", "pairwise_v1", "yesno_v1")}
    assert len(set(hashes.values())) == 4 and all(len(h) == 16 for h in hashes.values())
    assert load_prompt("t2i_v1")[1] == hashes["t2i_v1"]
