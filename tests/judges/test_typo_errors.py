"""Strict typography: strict text/tokens, error classes and the strict vs loose metrics, on
planted strings (pure functions, no OCR)."""

from __future__ import annotations

import random
import unicodedata

import pytest

from judges.ocr import cross_check_scores, loose_scores, ocr_scores, strict_scores
from judges.textnorm import edit_distance, strict_text, strict_tokens
from judges.typo_errors import (ERROR_CLASSES, aggregate_error_counts, classify_errors, classify_pair,
                                error_counts)

# The examples: each planted micro-typography error must fail strict and pass loose.
PLANTED = [("$9.99", "$999"), ("50% OFF!", "50 OFF"), ("2026-11-22", "20261122"), ("SALE", "sale"),
           ("Grand Opening", "GRAND OPENING"), ("Hello, World!", "Hello World")]


def kinds(expected: str, read: str) -> list[str]:
    return [e.kind for e in classify_errors(expected, read)]


@pytest.mark.parametrize("expected,read", PLANTED)
def test_planted_micro_typography_fails_strict_passes_loose(expected: str, read: str) -> None:
    s = strict_scores([expected], read)
    lo = loose_scores([expected], read)
    assert s["exact_match"] == 0.0 and lo["exact_match_loose"] == 1.0
    assert s["ned"] < 1.0 and lo["ned_loose"] == 1.0
    # strict NED is 1 - Levenshtein / max length on the texts as written
    assert s["ned"] == pytest.approx(1 - edit_distance(expected, read) / max(len(expected), len(read)))
    assert s["word_recall"] < 1.0 and lo["word_recall_loose"] == 1.0


def test_correct_text_scores_one_both_ways_and_has_no_errors() -> None:
    values, detail = ocr_scores(["OPEN DAILY", "Fresh Bread $4.50"], "OPEN DAILY Fresh Bread $4.50")
    assert all(values[m] == 1.0 for m in ("exact_match", "ned", "word_recall", "word_precision",
                                          "exact_match_loose", "ned_loose"))
    assert all(values[f"err_{k}"] == 0.0 for k in ERROR_CLASSES)
    assert detail["errors"] == [] and detail["error_counts"] == dict.fromkeys(ERROR_CLASSES, 0)


def test_each_error_class_on_planted_strings() -> None:
    assert kinds("SALE", "sale") == ["case"]
    assert kinds("$9.99", "$999") == ["punctuation"]
    assert kinds("50% OFF!", "50 OFF") == ["punctuation", "punctuation"]
    assert kinds("2026-11-22", "20261122") == ["punctuation"]
    assert kinds("GREEN TEA", "GREEN") == ["missing"]
    assert kinds("CAT", "CAT AND DOG") == ["extra", "extra"]
    assert kinds("Garden Party", "Gardem Party") == ["substitution"]
    assert kinds("HELLO WORLD", "HELLOWORLD") == ["spacing"]
    assert kinds("HELLO", "HEL LO") == ["spacing"]
    assert kinds("OFF !", "OFF!") == ["spacing"]
    assert kinds("$9.99", "$9 99") == ["punctuation", "spacing"]     # point read as a space
    assert kinds("HELLO WORLD", "helloworld") == ["case", "spacing"]
    assert kinds("HELLO WORLD", "WORLD HELLO") == ["order"]
    assert kinds("ONE TWO THREE", "THREE ONE TWO") == ["order"]
    assert kinds("Wait!", "Wait") == ["punctuation"]          # punctuation inside a token
    assert kinds("Wait !", "Wait") == ["punctuation"]         # a missing punctuation-only token
    assert kinds("Wait", "Wait ~") == ["punctuation"]         # an extra punctuation-only token
    assert sorted(kinds("SALE!", "sale")) == ["case", "punctuation"]   # both, and nothing else
    assert kinds("SALE", "SOLD") == ["substitution"]
    assert kinds("x", "") == ["missing"] and kinds("", "x") == ["extra"] and kinds("", "") == []


def test_error_records_name_tokens_and_positions() -> None:
    errs = classify_errors("Big SALE today 50%", "Big sale today 50")
    assert [(e.kind, e.expected, e.read, e.position) for e in errs] == [
        ("case", "SALE", "sale", 1), ("punctuation", "50%", "50", 3)]
    assert error_counts(errs) == {**dict.fromkeys(ERROR_CLASSES, 0), "case": 1, "punctuation": 1}
    # several classes in one reading, each counted once
    c = error_counts(classify_errors("OPEN 24 HOURS DAILY", "open 24HOURS DAILY extra"))
    assert c == {**dict.fromkeys(ERROR_CLASSES, 0), "case": 1, "spacing": 1, "extra": 1}


def test_classify_pair_precedence() -> None:
    assert classify_pair("a", "a") == []
    assert classify_pair("Café", "CAFÉ") == ["case"]
    assert classify_pair("e-mail", "email") == ["punctuation"]
    assert classify_pair("E-Mail", "email") == ["case", "punctuation"]
    assert classify_pair("café", "cafe") == ["substitution"]
    assert classify_pair("!", "l") == ["substitution"]


def test_diacritics_count_and_nfc_equals_nfd() -> None:
    nfc, nfd = "café crème", unicodedata.normalize("NFD", "café crème")
    assert nfc != nfd and strict_text(nfd) == nfc
    assert strict_scores([nfc], nfd)["exact_match"] == 1.0 and classify_errors(nfd, nfc) == []
    assert strict_scores([nfd], nfc)["exact_match"] == 1.0
    s = strict_scores(["café"], "cafe")
    assert s["exact_match"] == 0.0 and s["ned"] == pytest.approx(0.75)
    assert kinds("café", "cafe") == ["substitution"] and kinds("Ærø", "Aero") == ["substitution"]
    # only NFC: compatibility forms are not folded in strict (full-width, ligatures) but are in loose
    assert strict_scores(["ABC"], "ＡＢＣ")["exact_match"] == 0.0
    assert loose_scores(["ABC"], "ＡＢＣ")["exact_match_loose"] == 1.0


def test_strict_text_and_tokens() -> None:
    assert strict_text("  Hello \t\n World ") == "Hello World"
    assert strict_text("zero\u200bwidth") == "zerowidth"
    assert strict_text("SALE 大减价 ! 你 好") == "SALE大减价!你好"    # no spaces next to CJK
    assert strict_text("안녕 하세요") == "안녕 하세요"                # Korean keeps word spaces
    assert strict_tokens("안녕 하세요") == ["안", "녕", "하", "세", "요"]
    assert strict_tokens("SALE大减价!") == ["SALE", "大", "减", "价", "!"]
    assert strict_tokens("$9.99 OFF!") == ["$9.99", "OFF!"]
    assert strict_tokens("東京タワー 2026年") == ["東", "京", "タ", "ワ", "ー", "2026", "年"]


def test_cjk_compared_per_character() -> None:
    s = strict_scores(["你好世界"], "你好")
    assert s["word_recall"] == 0.5 and s["word_precision"] == 1.0 and s["ned"] == 0.5
    assert kinds("你好世界", "你好") == ["missing", "missing"]
    assert kinds("你好世界", "你好出界") == ["substitution"]
    assert kinds("你好世界", "世界你好") == ["order", "order"]
    # spaces between CJK characters (engines insert them at random) do not count
    assert strict_scores(["你好世界"], "你 好 世界")["exact_match"] == 1.0
    # CJK punctuation counts: a full-width comma is not an ASCII comma
    assert kinds("你好，世界", "你好,世界") == ["punctuation"]
    assert strict_scores(["你好，世界"], "你好,世界")["exact_match"] == 0.0
    # Japanese kana and mixed Latin + CJK
    assert kinds("セール 50%", "セール 50") == ["punctuation"]
    assert kinds("SALE 大减价!", "sale 大减价") == ["case", "punctuation"]
    s = strict_scores(["SALE 大减价!"], "SALE大减价!")
    assert s["exact_match"] == 1.0 and s["word_recall"] == 1.0


def test_strict_word_matching_counts_spacing_loose_does_not() -> None:
    s, lo = strict_scores(["HELLO WORLD"], "HELLOWORLD"), loose_scores(["HELLO WORLD"], "HELLOWORLD")
    assert s["word_recall"] == 0.0 and s["exact_match"] == 0.0
    assert s["ned"] == pytest.approx(1 - 1 / 11)
    assert lo["word_recall_loose"] == 1.0 and lo["exact_match_loose"] == 1.0


def test_counts_are_consistent_on_random_edits() -> None:
    """No errors exactly when the strict texts agree; any planted token change gives >= 1 error."""
    rng = random.Random(7)
    words = ["SALE", "50%", "OFF!", "$9.99", "Café", "2026-11-22", "大", "减", "价", "open"]
    for _ in range(200):
        exp = [rng.choice(words) for _ in range(rng.randint(1, 6))]
        read = list(exp)
        op = rng.choice(["none", "drop", "add", "swap", "case", "punct", "glue"])
        i = rng.randrange(len(read))
        if op == "drop":
            del read[i]
        elif op == "add":
            read.insert(i, "zz")
        elif op == "swap" and len(read) > 1:
            read[0], read[-1] = read[-1], read[0]
        elif op == "case":
            read[i] = read[i].swapcase()
        elif op == "punct":
            read[i] = read[i] + "."
        elif op == "glue" and len(read) > 1:
            read[0:2] = [read[0] + read[1]]
        e, r = " ".join(exp), " ".join(read)
        errs = classify_errors(e, r)
        assert (not errs) == (strict_text(e) == strict_text(r)), (e, r, errs)
        assert all(x.kind in ERROR_CLASSES for x in errs)


def test_aggregate_error_counts_sums_per_class() -> None:
    details = [ocr_scores(["$9.99"], r)[1] for r in ("$999", "$9.99", "$9 99", "9.99")]
    agg = aggregate_error_counts(details + [{}, {"text": "no counts"}])
    assert agg["images"] == 4 and agg["images_with_errors"] == 3
    # "$9 99": the point read as a space is one spacing and one punctuation error
    assert agg["errors"] == {**dict.fromkeys(ERROR_CLASSES, 0), "punctuation": 3, "spacing": 1}
    assert agg["images_with"]["punctuation"] == 3 and agg["images_with"]["spacing"] == 1


def test_cross_check_flags_disagreeing_engines() -> None:
    flag, d = cross_check_scores(["$9.99"], "$9.99", "$999")
    assert flag == 1.0 and d["text"] == "$999" and d["exact_match"] == {"primary": 1.0, "secondary": 0.0}
    assert d["ned_between"] == pytest.approx(0.8)
    flag, d = cross_check_scores(["SALE"], "SALE ", " SALE")
    assert flag == 0.0 and d["ned_between"] == 1.0


def test_long_unrelated_reading_is_classified_in_order() -> None:
    """A gap larger than PROGRAM_CELLS (hallucinated text) pairs tokens in order: every expected
    token is paired or missing, every read token paired or extra."""
    from judges.typo_errors import PROGRAM_CELLS

    exp = " ".join(f"w{i}" for i in range(60))
    read = " ".join(f"x{i}" for i in range(200))
    assert 60 * 200 > PROGRAM_CELLS
    c = error_counts(classify_errors(exp, read))
    assert c["substitution"] == 60 and c["extra"] == 140 and c["missing"] == 0
    # a small gap of the same kind goes through the edit program: the same counts
    c = error_counts(classify_errors("w0 w1 w2", "x0 x1 x2 x3 x4"))
    assert c["substitution"] == 3 and c["extra"] == 2
