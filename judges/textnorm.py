"""Text normalisation, tokenisation and edit distance for the OCR judge.

Two comparisons:

* **Strict** (the headline OCR metrics): text as written. `strict_text` applies Unicode NFC only
  (so NFD "café" equals NFC "café", but "cafe" does not), drops control/format characters
  (zero-width joiners), collapses whitespace runs to one space and removes whitespace next to a
  Chinese/Japanese character (written without spaces; engines insert them at random; Korean
  keeps its word spaces). Case,
  punctuation, symbols, digits, diacritics and the spaces between Latin words all count.
  `strict_tokens` splits on spaces and puts every CJK character in a token of its own (mixed
  "SALE大减价!" -> ["SALE", "大", "减", "价", "!"]).
* **Loose** (the `*_loose` metrics, the pre-v2 behaviour): every rule explicit and switchable
  through `TextNorm` (part of the OCR judge's config and therefore of its cache key). Defaults:
  Unicode NFKC, case-insensitive, punctuation removed, whitespace ignored by NED, CJK compared
  character by character.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TextNorm:
    """Normalisation rules.

    casefold:      compare case-insensitively ("Hello" == "HELLO").
    punctuation:   "strip" removes Unicode punctuation and symbols (P*, S* categories, so "café!"
                   -> "café", "3.14" -> "314"); "keep" leaves them.
    nfkc:          Unicode NFKC (full-width "ＡＢＣ" -> "ABC", "ﬁ" -> "fi").
    cjk_by_char:   split CJK ideographs/kana/hangul into one token per character.
    ned_spaces:    "ignore" drops all whitespace before the edit distance (OCR engines insert and
                   drop spaces unreliably; word segmentation is measured by recall/precision), or
                   "collapse" keeps single spaces.
    """

    casefold: bool = True
    punctuation: str = "strip"
    nfkc: bool = True
    cjk_by_char: bool = True
    ned_spaces: str = "ignore"

    def __post_init__(self) -> None:
        if self.punctuation not in ("strip", "keep"):
            raise ValueError(f"TextNorm.punctuation must be 'strip' or 'keep', not {self.punctuation!r}")
        if self.ned_spaces not in ("ignore", "collapse"):
            raise ValueError(f"TextNorm.ned_spaces must be 'ignore' or 'collapse', not {self.ned_spaces!r}")

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> "TextNorm":
        """Build from a plain dict (judge kwargs); unknown keys raise ValueError naming them."""
        cfg = dict(cfg or {})
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(cfg) - known)
        if bad:
            raise ValueError(f"unknown normalisation setting(s) {bad}; known: {sorted(known)}")
        return cls(**cfg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_cjk(ch: str) -> bool:
    """True for CJK ideographs, kana, hangul and CJK compatibility ideographs."""
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2EBEF
            or 0xF900 <= cp <= 0xFAFF or 0x3040 <= cp <= 0x30FF or 0xAC00 <= cp <= 0xD7AF
            or 0x31F0 <= cp <= 0x31FF)


def is_punct(ch: str) -> bool:
    """Unicode punctuation (P*) or symbol (S*): "$", "%", "-", "!", "，", "€", "©"."""
    return unicodedata.category(ch)[0] in "PS"


def _unspaced(ch: str) -> bool:
    """Chinese/Japanese characters (written without spaces); Korean hangul separates words by spaces."""
    return is_cjk(ch) and not 0xAC00 <= ord(ch) <= 0xD7AF


def strict_text(text: str) -> str:
    """Text as written, for the strict metrics: NFC, control/format characters dropped, whitespace
    runs collapsed to one space and trimmed, whitespace next to a Chinese/Japanese character
    removed (Korean keeps its spaces)."""
    text = unicodedata.normalize("NFC", text)
    chars = [" " if (ch.isspace() or unicodedata.category(ch).startswith("Z")) else ch
             for ch in text if ch.isspace() or not unicodedata.category(ch).startswith("C")]
    words = "".join(chars).split()
    out = words[:1]
    for w in words[1:]:
        # a space between two words is kept unless either side of it is Chinese/Japanese
        out.append(w if _unspaced(out[-1][-1]) or _unspaced(w[0]) else " " + w)
    return "".join(out)


def strict_tokens(text: str) -> list[str]:
    """Strict words: space-separated runs with punctuation attached ("$9.99", "OFF!"), every CJK
    character a token of its own, and a non-CJK run next to CJK a token of its own."""
    toks: list[str] = []
    for word in unicodedata.normalize("NFC", text).split():
        run = ""
        for ch in word:
            if unicodedata.category(ch).startswith("C"):
                continue
            if is_cjk(ch):
                if run:
                    toks.append(run)
                    run = ""
                toks.append(ch)
            else:
                run += ch
        if run:
            toks.append(run)
    return toks


def normalize(text: str, norm: TextNorm = TextNorm()) -> str:
    """Apply the rules to a string; whitespace is always collapsed to single spaces and trimmed.

    With cjk_by_char, CJK characters are surrounded by spaces so that they tokenise as words.
    """
    if norm.nfkc:
        text = unicodedata.normalize("NFKC", text)
    if norm.casefold:
        text = text.casefold()
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace() or cat.startswith("Z"):
            out.append(" ")
        elif norm.punctuation == "strip" and (cat.startswith("P") or cat.startswith("S")):
            # Punctuation separates words only where it is written as a separator ("a/b", "x—y");
            # inside a word ("don't", "3.14") it is dropped without splitting.
            out.append(" " if cat in ("Pd", "Ps", "Pe") or ch in "/\\|" else "")
        elif norm.cjk_by_char and is_cjk(ch):
            out.append(f" {ch} ")
        elif cat.startswith("C"):
            continue   # control / format characters (zero-width joiners etc.)
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def tokenize(text: str, norm: TextNorm = TextNorm()) -> list[str]:
    """Normalised words (CJK characters count as single words under cjk_by_char)."""
    return normalize(text, norm).split()


def ned_string(text: str, norm: TextNorm = TextNorm()) -> str:
    """The string compared by NED and exact match."""
    s = normalize(text, norm)
    if norm.ned_spaces == "ignore":
        return s.replace(" ", "")
    # Under cjk_by_char the padding spaces around CJK characters are an artefact: remove them.
    if norm.cjk_by_char:
        toks = s.split(" ")
        merged: list[str] = []
        for t in toks:
            if merged and len(t) == 1 and is_cjk(t) and merged[-1] and is_cjk(merged[-1][-1]):
                merged[-1] += t
            else:
                merged.append(t)
        s = " ".join(merged)
    return s


def _bit_parallel_distance(a: str, b: str) -> int:
    """Levenshtein distance of two strings by Myers' bit-vector algorithm (Hyyrö 2003): one pass
    over b with len(a)-bit integers, so long OCR readings cost O(len(b)) Python steps."""
    m = len(a)
    if m == 0:
        return len(b)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    full, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = full, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


def edit_distance(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Levenshtein distance (unit insert/delete/substitute) between two sequences; strings use the
    bit-parallel algorithm, other sequences the O(len(a)*len(b)) table."""
    if isinstance(a, str) and isinstance(b, str):
        return _bit_parallel_distance(a, b) if len(a) >= len(b) else _bit_parallel_distance(b, a)
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def ned(reference: str, hypothesis: str) -> float:
    """1 - normalised edit distance: 1 - lev(ref, hyp) / max(len(ref), len(hyp)); 1.0 if both empty."""
    n = max(len(reference), len(hypothesis))
    if n == 0:
        return 1.0
    return 1.0 - edit_distance(reference, hypothesis) / n


@dataclass(frozen=True)
class WordMatch:
    """Result of matching expected words against recognised words (multisets, one-to-one)."""

    expected: tuple[str, ...]
    predicted: tuple[str, ...]
    matched: int           # expected words found among the predicted words
    matched_predicted: int  # predicted words that match some expected word

    @property
    def recall(self) -> float:
        return self.matched / len(self.expected) if self.expected else 1.0

    @property
    def precision(self) -> float:
        """Fraction of recognised words that were asked for; 0.0 when nothing was recognised but
        text was expected (sklearn's zero_division=0), 1.0 when nothing was expected nor read."""
        if not self.predicted:
            return 0.0 if self.expected else 1.0
        return self.matched_predicted / len(self.predicted)


def match_words(expected: Sequence[str], predicted: Sequence[str], min_similarity: float = 1.0,
                join_split: bool = True) -> WordMatch:
    """One-to-one matching of word multisets.

    Exact matches first (multiset intersection); then, when `min_similarity` < 1, remaining pairs
    whose per-word NED >= min_similarity are matched greedily, most similar first. With
    `join_split` (loose), a predicted word that glues several expected words together (a dropped
    space, "HELLOWORLD") matches all of them when its characters equal their concatenation in
    order, so a lost space is not counted twice; likewise an expected word read as consecutive
    pieces ("HEL LO") matches all the pieces. Strict matching passes join_split=False: spacing counts.
    """
    exp_left = Counter(expected)
    pred_left = Counter(predicted)
    common = exp_left & pred_left
    matched = sum(common.values())
    exp_left -= common
    pred_left -= common
    matched_pred = matched

    # Glued words: a predicted token equal to a concatenation of consecutive expected words.
    for p in (list(pred_left.elements()) if join_split else []):
        parts = _glued_parts(p, list(expected), exp_left)
        if parts:
            exp_left -= parts
            pred_left[p] -= 1
            pred_left += Counter()   # drop zero counts
            matched += sum(parts.values())
            matched_pred += 1

    # Split words: an expected word read as consecutive pieces ("HEL LO").
    for e in (list(exp_left.elements()) if join_split else []):
        parts = _glued_parts(e, list(predicted), pred_left)
        if parts:
            pred_left -= parts
            exp_left[e] -= 1
            exp_left += Counter()
            matched += 1
            matched_pred += sum(parts.values())

    if min_similarity < 1.0 and exp_left and pred_left:
        pairs = sorted(((ned(e, p), e, p) for e in exp_left for p in pred_left), reverse=True)
        for sim, e, p in pairs:
            if sim < min_similarity:
                break
            if exp_left[e] > 0 and pred_left[p] > 0:
                exp_left[e] -= 1
                pred_left[p] -= 1
                matched += 1
                matched_pred += 1
    return WordMatch(tuple(expected), tuple(predicted), matched, matched_pred)


def _glued_parts(token: str, expected: list[str], available: Counter) -> Counter | None:
    """Consecutive expected words (two or more, all still unmatched) whose concatenation is token."""
    for i in range(len(expected)):
        acc = expected[i]
        for j in range(i + 1, len(expected)):
            acc += expected[j]
            if not token.startswith(acc):
                break
            if acc == token:
                parts = Counter(expected[i:j + 1])
                if not parts - available:
                    return parts
                break
    return None
