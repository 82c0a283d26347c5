"""Parity metrics: expected values worked out by hand from each benchmark's official formula
(the arithmetic is in the comments), on small inputs chosen to exercise its normalisation and
aggregation quirks."""

from __future__ import annotations

import math

import pytest

from evalsuite.runner import judge_verdicts
from judges.parity.diversity import oneig_diversity
from judges.parity.dpg import DPGImage, dpg_aggregate
from judges.parity.gedit import GROUPS, GEditRow, gedit_aggregate, gedit_item
from judges.parity.geneval import geneval_aggregate
from judges.parity.text import (cvtg_image, cvtg_scores, longtext_counts, longtext_text_accuracy, oneig_image,
                                oneig_text_score)


def test_longtext_en_micro_average() -> None:
    # rec 1: GT "FRESH BREWS, EVERY DAY Since 1998" -> punctuation dropped, lower-cased:
    #   fresh brews every day since 1998 (6 words); OCR "Fresh Brews - every DAY\nSince 1989 No text
    #   recognized." -> "No text recognized." removed, "-" dropped -> fresh brews every day since 1989:
    #   5 of 6 match (1989 != 1998).
    # rec 2: GT "go go go" (3), OCR "go GO stop" -> go go stop: multiset match min(3, 2) = 2.
    # score = (5 + 2) / (6 + 3) = 7/9 (a micro average; the macro mean would be (5/6 + 2/3)/2 = 0.75)
    recs = [(["FRESH BREWS, EVERY DAY", "Since 1998"], "Fresh Brews - every DAY\nSince 1989 No text recognized."),
            (["go go go"], "go GO stop")]
    assert longtext_counts(*recs[0]) == (5, 6)
    assert longtext_counts(*recs[1]) == (2, 3)
    assert longtext_text_accuracy(recs) == pytest.approx(7 / 9)
    # accented letters are kept, so "Café" != "Cafe": 0 of 1
    assert longtext_counts(["Café"], "Cafe") == (0, 1)


def test_longtext_zh_characters() -> None:
    # GT 每日新鲜烘焙 (6 chars); OCR "每日新鮮烘焙!" keeps 每日新鮮烘焙 ("!" dropped);
    # 鮮 (traditional) != 鲜 -> 5 of 6. GT "2公里" vs OCR "2 公 里": ZH mode drops spaces -> 3 of 3.
    assert longtext_counts(["每日新鲜烘焙"], "每日新鮮烘焙!", mode="zh") == (5, 6)
    assert longtext_counts(["2公里"], "2 公 里", mode="zh") == (3, 3)
    assert longtext_text_accuracy([(["每日新鲜烘焙"], "每日新鮮烘焙!"), (["2公里"], "2 公 里")], "zh") == pytest.approx(8 / 9)


def test_oneig_text_en() -> None:
    # GT list literal "['The Impact of 5G', 'Telecom Report, 2025']" -> brackets, quotes and commas
    # dropped -> "The Impact of 5G Telecom Report 2025" (7 words; case is kept).
    gt = ["The Impact of 5G", "Telecom Report, 2025"]
    # image 1 reads it exactly: ED 0, CR 1, 7/7 words.
    a = oneig_image(gt, "The Impact of 5G\nTelecom Report, 2025")
    assert (a.edit_distance, a.completion, a.matched, a.gt_count) == (0, 1, 7, 7)
    # image 2 "the impact of 5G Telecom Report 2024": T->t, I->i, 5->4: ED 3, CR 0;
    # case-sensitive words: of, 5G, Telecom, Report match -> 4/7.
    b = oneig_image(gt, "the impact of 5G Telecom Report 2024")
    assert (b.edit_distance, b.completion, b.matched, b.gt_count) == (3, 0, 4, 7)
    # ED = (0+3)/2 = 1.5, CR = 0.5, WAC = (7+4)/(7+7) = 11/14
    # text = 1 - min(100, 1.5) * (1-0.5) * (1-11/14) / 100 = 1 - 1.5*0.5*(3/14)/100 = 1 - 2.25/1400
    s = oneig_text_score([a, b], "en")
    assert s["ED"] == 1.5 and s["CR"] == 0.5 and s["WAC"] == pytest.approx(11 / 14)
    assert s["text"] == pytest.approx(1 - 2.25 / 1400)


def test_oneig_text_zh_uses_max_distance_50() -> None:
    # GT "['电信报告，2025']" contains Chinese -> only CJK/letters/digits kept: 电信报告2025 (8 chars);
    # OCR "电信报吿 2025" -> 电信报吿2025: one substitution (告 -> 吿): ED 1, CR 0, 7 of 8 characters.
    # text = 1 - min(50, 1) * (1-0) * (1-7/8) / 50 = 1 - 0.125/50 = 0.9975
    im = oneig_image(["电信报告，2025"], "电信报吿 2025")
    assert (im.edit_distance, im.completion, im.matched, im.gt_count) == (1, 0, 7, 8)
    assert oneig_text_score([im], "zh")["text"] == pytest.approx(0.9975)


def test_cvtg_word_accuracy_and_ned() -> None:
    # image 1: GT "open late route 42" (4 words, 18 chars), OCR "open late route 24":
    #   3/4 words; Levenshtein("...42", "...24") = 2 -> NED = 1 - 2/18
    # image 2: GT "ocean tales" (11 chars), OCR "" -> 0 words, NED = 1 - 11/11 = 0
    assert cvtg_image(["OPEN LATE", "Route 42"], "Open late\nRoute 24") == pytest.approx((0.75, 1 - 2 / 18))
    s = cvtg_scores([(["OPEN LATE", "Route 42"], "Open late\nRoute 24"), (["Ocean Tales"], "")])
    assert s["word_accuracy"] == pytest.approx(0.375) and s["ned"] == pytest.approx((1 - 2 / 18) / 2)


def test_gedit_item_and_macro_average() -> None:
    # one item: SC = min(8, 6) = 6, PQ = min(9, 4) = 4, O = sqrt(24)
    assert gedit_item([8, 6], [9, 4]) == pytest.approx((6, 4, math.sqrt(24)))
    rows = [GEditRow(g, "en", 10, 10) for g in GROUPS if g != "color_alter"]
    rows += [GEditRow("color_alter", "en", 6, 4), GEditRow("color_alter", "en", 8, 8, intersection=False),
             GEditRow("color_alter", "cn", 2, 2)]          # other language: ignored
    out = gedit_aggregate(rows, "en")
    # color_alter: SC (6+8)/2 = 7, PQ (4+8)/2 = 6, O (sqrt 24 + 8)/2; the 10 other groups: 10 each
    assert out["sc"]["color_alter"] == 7 and out["pq"]["color_alter"] == 6
    assert out["o"]["color_alter"] == pytest.approx((math.sqrt(24) + 8) / 2)
    # avg = mean over 11 groups: SC (100 + 7)/11, PQ (100 + 6)/11, O (100 + (sqrt 24 + 8)/2)/11
    assert out["sc"]["avg"] == pytest.approx(107 / 11) and out["pq"]["avg"] == pytest.approx(106 / 11)
    assert out["o"]["avg"] == pytest.approx((100 + (math.sqrt(24) + 8) / 2) / 11)
    # intersection only drops the (8, 8) item: color_alter SC 6 -> avg (100 + 6)/11
    inter = gedit_aggregate(rows, "en", intersection_only=True)
    assert inter["sc"]["avg"] == pytest.approx(106 / 11) and inter["o"]["avg"] == pytest.approx((100 + math.sqrt(24)) / 11)
    # a group without items is NaN, and so is the average (np.mean([]) in the official script)
    assert math.isnan(gedit_aggregate(rows[:3], "en")["sc"]["avg"])


def test_dpg_dependencies_crops_and_categories() -> None:
    # image 1, questions 1 (root), 2 and 3 (both depend on 1):
    #   crop A answers no/yes/yes -> raw 0,1,1 -> 2 and 3 zeroed (parent 1 is 0) -> 0
    #   crop B answers yes/no/yes -> 1,0,1 -> 2/3 ;  image score (0 + 2/3)/2 = 1/3
    im1 = DPGImage(answers=[{1: "no", 2: "yes", 3: "yes"}, {1: "yes", 2: "no", 3: "yes"}],
                   dependency={1: [0], 2: [1], 3: [1]},
                   tuples={1: "entity - whole (cabbage)", 2: "other - count (cabbage, ==8)",
                           3: "attribute - color (cabbage, green)"})
    # image 2: crop A yes/yes -> 1 ; crop B yes/"Yes" (not exactly "yes") -> 1,0 -> 0.5 ; image 0.75
    im2 = DPGImage(answers=[{1: "yes", 2: "yes"}, {1: "yes", 2: "Yes"}], dependency={1: [0], 2: [1]},
                   tuples={1: "entity - whole (lamp)", 2: "relation - spatial (lamp, table, on)"})
    out = dpg_aggregate([im1, im2])
    # DPG = 100 * (1/3 + 3/4) / 2 = 100 * 13/24
    assert out["score"] == pytest.approx(100 * 13 / 24)
    # categories use the last crop's raw scores: entity-whole [1, 1], other-count [0],
    # attribute-color [1], relation-spatial [0]
    assert out["l2"] == pytest.approx({"entity - whole": 100, "other - count": 0, "attribute - color": 100,
                                       "relation - spatial": 0})
    assert out["l1"] == pytest.approx({"entity": 100, "other": 0, "attribute": 100, "relation": 0})


def test_geneval_macro_over_tasks() -> None:
    # single_object: 1 of 4 images correct = 0.25 ; counting: 2 of 2 = 1 ; overall (0.25 + 1)/2
    rows = [("single_object", "p1", True), ("single_object", "p1", False), ("single_object", "p2", False),
            ("single_object", "p2", False), ("counting", "p3", True), ("counting", "p3", True)]
    out = geneval_aggregate(rows)
    assert out["overall"] == pytest.approx(0.625) and out["tasks"] == {"single_object": 0.25, "counting": 1.0}
    # images 3/6; prompts with any correct image: p1, p3 of 3
    assert out["images"] == 0.5 and out["prompts"] == pytest.approx(2 / 3)


def test_oneig_diversity_mean_over_prompts() -> None:
    # distance |a-b|. A [0,1,3]: pairs 1,3,2 -> 2 ; B [0,4] -> 4 ; C [1,1,1,2]: pairs 0,0,1,0,1,1 -> 0.5 ;
    # D [5]: one image, skipped. anime (2+4)/2 = 3, text 0.5, total over prompts (2+4+0.5)/3
    # (not the mean of class means, 1.75)
    prompts = {"A": ("anime", [0, 1, 3]), "B": ("anime", [0, 4]), "C": ("text", [1, 1, 1, 2]), "D": ("text", [5])}
    out = oneig_diversity(prompts, lambda a, b: abs(a - b))
    assert out == pytest.approx({"anime": 3.0, "text": 0.5, "total": 6.5 / 3})


def test_parity_text_judge_through_the_vlm_backend() -> None:
    """The judge scores the VLM's reading with the official per-image quantities (hand-derived):
    GT "FRESH BREWS, EVERY DAY" / "Since 1998", reading "Fresh Brews - every DAY" / "Since 1989".
    LongText: fresh brews every day since 1998 vs ... 1989 -> 5/6.
    CVTG: same words 5/6; "fresh brews every day since 1998" has 32 characters, 98 -> 89 is two
    substitutions -> NED 1 - 2/32.
    OneIG (case-sensitive): "FRESH BREWS EVERY DAY Since 1998" vs "Fresh Brews every DAY Since 1989":
    RESH 4 + REWS 4 + EVERY 5 + 98->89 2 = ED 15; words DAY, Since match -> 2/6."""
    from PIL import Image

    from evalsuite.registry import JUDGES
    from evalsuite.types import Case, JudgeInput
    from tests.fixtures.scripted_server import Reply, ScriptedServer, chat_reply

    case = Case(id="c", kind="t2i", prompt="p", seeds=(0,), expected_text=("FRESH BREWS, EVERY DAY", "Since 1998"))
    with ScriptedServer(lambda body, n: Reply(body=chat_reply("Fresh Brews - every DAY\nSince 1989"))) as s:
        judge = JUDGES.get("parity-text")(backend="vlm", url=s.url, model="m")
        try:
            out = {v.metric: v for v in judge_verdicts(judge, [JudgeInput(case, 0, Image.new("RGB", (64, 64)), "h")])}
        finally:
            judge.close()
    assert out["longtext.text_accuracy"].value == pytest.approx(5 / 6)
    assert out["cvtg.word_accuracy"].value == pytest.approx(5 / 6)
    assert out["cvtg.ned"].value == pytest.approx(1 - 2 / 32)
    assert out["oneig.edit_distance"].value == 15 and out["oneig.completion"].value == 0
    assert out["oneig.word_accuracy"].value == pytest.approx(2 / 6)
    assert out["oneig.word_accuracy"].detail["longtext"] == {"matched": 5, "gt_count": 6}


def test_parity_text_judge_failure_is_recorded_not_zero() -> None:
    from PIL import Image

    from evalsuite.registry import JUDGES
    from evalsuite.types import Case, JudgeInput
    from tests.fixtures.scripted_server import Reply, ScriptedServer

    case = Case(id="c", kind="t2i", prompt="p", seeds=(0,), expected_text=("A",))
    with ScriptedServer(lambda body, n: Reply(status=500, body={"error": "down"})) as s:
        judge = JUDGES.get("parity-text")(backend="vlm", url=s.url, model="m", retries=0)
        try:
            out = judge_verdicts(judge, [JudgeInput(case, 0, Image.new("RGB", (64, 64)), "h")])
        finally:
            judge.close()
    assert len(out) == 6 and all(not v.ok and v.value is None and "vlm ocr" in v.error for v in out)


def test_parity_text_judge_with_real_rapidocr() -> None:
    """Real OCR on a cleanly drawn two-line image reads every word: LongText and CVTG accuracy 1."""
    from PIL import Image, ImageDraw, ImageFont

    from evalsuite.registry import JUDGES
    from evalsuite.types import Case, JudgeInput

    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    img = Image.new("RGB", (512, 256), "white")
    d = ImageDraw.Draw(img)
    d.text((256, 80), "GRAND OPENING", font=ImageFont.truetype(font_path, 44), fill="black", anchor="mm")
    d.text((256, 170), "Saturday 10 AM", font=ImageFont.truetype(font_path, 36), fill="black", anchor="mm")
    case = Case(id="c", kind="t2i", prompt="p", seeds=(0,), expected_text=("GRAND OPENING", "Saturday 10 AM"))
    judge = JUDGES.get("parity-text")(backend="rapidocr")
    try:
        out = {v.metric: v.value for v in judge_verdicts(judge, [JudgeInput(case, 0, img, "h")])}
    finally:
        judge.close()
    assert out["longtext.text_accuracy"] == 1.0 and out["cvtg.word_accuracy"] == 1.0
