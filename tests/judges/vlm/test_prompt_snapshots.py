"""Judge prompts are frozen: the rendered prompt and the reply constraint of every VLM judge must
equal the stored snapshot. Changing a prompt changes every verdict it produces, so do it as a new
template file (prompts/<name>_v3.txt) with a new judge `prompt_name`/version, then regenerate the
snapshots with `EVALSUITE_UPDATE_SNAPSHOTS=1 pytest tests/judges/vlm/test_prompt_snapshots.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evalsuite.types import Case
from judges.vlm.common import load_prompt, render_prompt, reply_regex, templates_hash
from judges.vlm.edit import VLMEditJudge
from judges.vlm.pairwise import FIELDS as PAIR_FIELDS
from judges.vlm.pairwise import VLMPairwiseJudge
from judges.vlm.t2i import VLMT2IJudge, t2i_prompt
from judges.vlm.viescore import EDIT_SC_FIELDS, PQ_FIELDS, T2I_SC_FIELDS
from judges.vlm.yesno import VLMYesNoJudge

SNAP = Path(__file__).parent / "snapshots"
CASE = Case("snap", "t2i", 'A poster with the word "HARVEST" on a cream background.', (0,),
            expected_text=("HARVEST",))
NAMES = ["t2i_sc_v2", "edit_sc_v2", "pq_v2", "pairwise_v2", "yesno_v1"]


def rendered() -> dict[str, str]:
    return {
        "t2i_sc_v2": t2i_prompt(CASE) + "\n---\n" + reply_regex(T2I_SC_FIELDS) + "\n",
        "edit_sc_v2": render_prompt("edit_sc_v2", prompt="Make the sign red.") + "\n---\n"
                      + reply_regex(EDIT_SC_FIELDS) + "\n",
        "pq_v2": render_prompt("pq_v2") + "\n---\n" + reply_regex(PQ_FIELDS) + "\n",
        "pairwise_v2": render_prompt("pairwise_v2", prompt=CASE.prompt) + "\n---\n" + reply_regex(PAIR_FIELDS) + "\n",
        "yesno_v1": render_prompt("yesno_v1", question="Is there a poster?") + "\n",
    }


@pytest.mark.parametrize("name", NAMES)
def test_prompt_matches_snapshot(name):
    text = rendered()[name]
    path = SNAP / f"{name}.txt"
    if os.environ.get("EVALSUITE_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing snapshot {path}"
    assert text == path.read_text(encoding="utf-8"), (
        f"prompt {name} changed: add a new template version instead of editing it (see module docstring)")


def test_prompt_hashes_are_distinct_and_stable():
    hashes = {n: load_prompt(n)[1] for n in NAMES}
    assert len(set(hashes.values())) == len(NAMES) and all(len(h) == 16 for h in hashes.values())
    assert load_prompt("t2i_sc_v2")[1] == hashes["t2i_sc_v2"]


def test_judges_send_the_snapshotted_templates_and_hash_all_of_them():
    """Each judge's prompt_hash covers every template it sends (SC and PQ), so editing the shared
    PQ template changes vlm-t2i's and vlm-edit's cache keys and fingerprints."""
    judges = {cls.name: cls(url="http://h:1/v1", model="m")
              for cls in (VLMT2IJudge, VLMEditJudge, VLMPairwiseJudge, VLMYesNoJudge)}
    sent = {n: tuple(j.fingerprint()["prompts"]) for n, j in judges.items()}
    assert sent == {"vlm-t2i": ("t2i_sc_v2", "pq_v2"), "vlm-edit": ("edit_sc_v2", "pq_v2"),
                    "vlm-pairwise": ("pairwise_v2",), "vlm-yesno": ("yesno_v1",)}
    assert set(n for names in sent.values() for n in names) == set(NAMES)
    for n, j in judges.items():
        assert j.prompt_hash == templates_hash(sent[n])
    assert templates_hash(("t2i_sc_v2", "pq_v2")) != templates_hash(("t2i_sc_v2",))
    # the prompt the reply layout asks for lists the fields in the order the regex enforces
    for name, fields in (("t2i_sc_v2", T2I_SC_FIELDS), ("edit_sc_v2", EDIT_SC_FIELDS), ("pq_v2", PQ_FIELDS),
                         ("pairwise_v2", PAIR_FIELDS)):
        layout = load_prompt(name)[0].rsplit("\n", 2)[-2]
        positions = [layout.index(f'"{f.name}"') for f in fields]
        assert positions == sorted(positions) and fields[0].name == "reasoning", name
