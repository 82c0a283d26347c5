"""Normalisation, tokenisation, edit distance and word matching (pure functions, no OCR)."""

from __future__ import annotations

import random
from functools import lru_cache

import pytest

from judges.ocr import loose_scores
from judges.textnorm import TextNorm, edit_distance, match_words, ned, ned_string, normalize, tokenize


def reference_levenshtein(a: str, b: str) -> int:
    """Independent top-down recursive definition of the Levenshtein distance."""

    @lru_cache(maxsize=None)
    def d(i: int, j: int) -> int:
        if i == 0:
            return j
        if j == 0:
            return i
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_edit_distance_known_values() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert edit_distance("你好世界", "你好") == 2
    assert ned("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert ned("", "") == 1.0
    assert ned("abc", "") == 0.0


def test_edit_distance_matches_reference_on_random_strings() -> None:
    rng = random.Random(1234)
    alphabet = "abcde 你好"
    for _ in range(300):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert edit_distance(a, b) == reference_levenshtein(a, b), (a, b)
        assert edit_distance(a, b) == edit_distance(b, a)
        assert edit_distance(list(a), list(b)) == edit_distance(a, b)   # table path == bit-parallel path
    # long strings (more bits than a machine word) against the table path
    for _ in range(20):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(60, 150)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 150)))
        assert edit_distance(a, b) == edit_distance(list(a), list(b)), (a, b)


def test_normalisation_rules_are_configurable() -> None:
    s = "Hello,  WORLD!\tCafé ＡＢＣ"
    assert normalize(s) == "hello world café abc"
    assert normalize(s, TextNorm(casefold=False)) == "Hello WORLD Café ABC"
    assert normalize(s, TextNorm(punctuation="keep")) == "hello, world! café abc"
    assert normalize(s, TextNorm(nfkc=False)) == "hello world café ａｂｃ"
    assert tokenize("Don't stop") == ["dont", "stop"]
    assert tokenize("A/B test — now") == ["a", "b", "test", "now"]
    with pytest.raises(ValueError, match="unknown normalisation"):
        TextNorm.from_config({"lowercase": True})


def test_cjk_by_character() -> None:
    assert tokenize("你好世界") == ["你", "好", "世", "界"]
    assert tokenize("你好世界", TextNorm(cjk_by_char=False)) == ["你好世界"]
    assert tokenize("SALE 大减价!") == ["sale", "大", "减", "价"]
    assert ned_string("你好 世界") == "你好世界"
    assert ned_string("hello  world", TextNorm(ned_spaces="collapse")) == "hello world"


def test_word_matching_recall_precision() -> None:
    m = match_words(["hello", "world"], ["hello", "world", "extra"])
    assert (m.recall, m.precision) == (1.0, pytest.approx(2 / 3))
    m = match_words(["the", "the", "cat"], ["the", "cat"])   # multiset: one 'the' is missing
    assert m.recall == pytest.approx(2 / 3) and m.precision == 1.0
    m = match_words(["hello", "world"], ["helloworld"])       # a dropped space is not two misses
    assert (m.recall, m.precision) == (1.0, 1.0)
    m = match_words(["hello", "world"], ["hel", "lo", "world"])   # a spurious space splits a word
    assert (m.recall, m.precision) == (1.0, 1.0)
    m = match_words(["hello"], ["lo", "hel"])                      # pieces out of order do not count
    assert (m.recall, m.precision) == (0.0, 0.0)
    m = match_words(["hello"], ["hallo"])
    assert m.recall == 0.0
    assert match_words(["hello"], ["hallo"], min_similarity=0.8).recall == 1.0
    assert match_words(["hello"], []).precision == 0.0


def test_loose_scores_end_to_end_strings() -> None:
    s = loose_scores(["Hello World"], "HELLO, world!")
    assert s == {"word_recall_loose": 1.0, "word_precision_loose": 1.0, "ned_loose": 1.0, "exact_match_loose": 1.0}
    s = loose_scores(["Hello World"], "Hello Wrld xyz")
    assert s["word_recall_loose"] == 0.5 and s["word_precision_loose"] == pytest.approx(1 / 3)
    assert s["ned_loose"] == pytest.approx(1 - reference_levenshtein("helloworld", "hellowrldxyz") / 12)
    assert s["exact_match_loose"] == 0.0
    s = loose_scores(["OPEN", "24 hours"], "OPEN 24 HOURS")   # several expected strings, in order
    assert s["exact_match_loose"] == 1.0
