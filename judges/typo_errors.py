"""Typography error classes: an alignment of expected and read tokens, each difference named.

Both texts are split into strict tokens (`judges.textnorm.strict_tokens`: NFC, words as written
with their punctuation, one token per CJK character). The alignment is built in three steps:

1. **Anchors**: a longest common subsequence of identical tokens (tokens read right, in order).
2. **Order**: a token that is unaligned on both sides (expected at one place, read at another,
   "WORLD HELLO" for "HELLO WORLD", swapped lines) is one `order` error; pairs are taken per
   token text, as many as occur on both sides.
3. **Gaps**: between consecutive anchors, the remaining expected and read tokens are aligned by a
   small edit-distance program whose steps are: pair one expected with one read token (cost
   1 - 0.5 * loose similarity, so 0.5 to 1), drop an expected token (1), add a read token (1), or
   join 2+ tokens on one side with 1+ on the other (at most MAX_JOIN a side) when their
   concatenations are equal (0.5), or differ only in case and/or punctuation (0.75 / 1.0) and the
   token counts differ. A gap of more than PROGRAM_CELLS token pairs (mostly unrelated or
   hallucinated text) pairs its tokens in order instead, for speed.

Each difference then gets exactly one class (a pair differing in both case and punctuation, and
in nothing else, gives one `case` and one `punctuation` error):

- ``missing``:      an expected token (not punctuation-only) with no read counterpart.
- ``extra``:        a read token (not punctuation-only) with no expected counterpart.
- ``substitution``: a paired expected/read token that differs in letters, digits or diacritics
                    ("cafe" for "café", "Gardn" for "Garden", a CJK character for another).
- ``case``:         a pair equal after case folding ("sale" for "SALE").
- ``punctuation``:  a pair equal once punctuation and symbols (Unicode P*/S*) are removed
                    ("$999" for "$9.99", "50" for "50%", "20261122" for "2026-11-22"), or a
                    missing or extra token made only of punctuation/symbols ("!", "—").
- ``spacing``:      tokens whose concatenations are equal but split differently: a dropped space
                    ("HELLOWORLD" for "HELLO WORLD") or an added one ("HEL LO"). When the joined
                    texts also differ in case or punctuation ("$9 99" for "$9.99"), the join counts
                    one spacing error plus one case and/or one punctuation error. Spaces next to
                    CJK characters are not compared at all.
- ``order``:        a token read correctly but out of order (step 2).

Counts are per image (`error_counts`); `aggregate_error_counts` sums them over many verdicts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from judges.textnorm import is_punct, ned, strict_tokens

ERROR_CLASSES: tuple[str, ...] = ("missing", "extra", "substitution", "case", "punctuation", "spacing", "order")
MAX_JOIN = 4   # at most this many tokens on one side of a spacing join
SIMILARITY_CELLS = 400   # gaps up to this many (expected x read) token pairs weigh pairs by similarity
PROGRAM_CELLS = 2500     # larger gaps (mostly unrelated text) pair tokens in order, no joins (speed)


@dataclass(frozen=True)
class TypoError:
    """One difference: its class, the expected and read text involved ("" for none) and the index
    of the first expected token involved (the insertion point for extra tokens)."""

    kind: str
    expected: str
    read: str
    position: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def strip_punct(token: str) -> str:
    """The token without Unicode punctuation and symbols."""
    return "".join(ch for ch in token if not is_punct(ch))


def _loose(token: str) -> str:
    return strip_punct(token).casefold()


def classify_pair(expected: str, read: str) -> list[str]:
    """Classes of one paired (expected, read) token: [] when equal, else as the module says."""
    if expected == read:
        return []
    if expected.casefold() == read.casefold():
        return ["case"]
    se, sr = strip_punct(expected), strip_punct(read)
    if se == sr:
        return ["punctuation"]
    if se and se.casefold() == sr.casefold():
        return ["case", "punctuation"]
    return ["substitution"]


def _lcs_pairs(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs of one longest common subsequence of a and b (earliest alignment on ties)."""
    n, m = len(a), len(b)
    L = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            L[i][j] = L[i + 1][j + 1] + 1 if a[i] == b[j] else max(L[i + 1][j], L[i][j + 1])
    out, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif L[i + 1][j] >= L[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def _align_gap(exp: list[tuple[int, str]], red: list[tuple[int, str]], insert_at: int) -> list[TypoError]:
    """Errors of one gap between anchors (step 3): a minimum-cost edit program over pairs, drops,
    adds and spacing joins. `exp`/`red` are (index, token) lists; `insert_at` is the expected index
    where read-only tokens of an empty gap would sit."""
    n, m = len(exp), len(red)
    if n * m > PROGRAM_CELLS:
        k = min(n, m)
        return (_gap_errors(exp, red, insert_at, [(i, i, 1, 1, "pair") for i in range(k)]
                            + [(i, k, 1, 0, "drop") for i in range(k, n)]
                            + [(k, j, 0, 1, "add") for j in range(k, m)]))
    le = [_loose(t) for _, t in exp]
    lr = [_loose(t) for _, t in red]
    similar = n * m <= SIMILARITY_CELLS   # beyond this, unequal pairs all cost 1 (speed)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, str] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            c = cost[i][j]
            if c == inf:
                continue
            steps: list[tuple[int, int, str, float]] = []
            if i < n:
                steps.append((1, 0, "drop", 1.0))
            if j < m:
                steps.append((0, 1, "add", 1.0))
            if i < n and j < m:
                sim = 1.0 if le[i] == lr[j] else (ned(le[i], lr[j]) if similar else 0.0)
                steps.append((1, 1, "pair", 1.0 - 0.5 * sim))
            ea = ""
            for a in range(1, min(MAX_JOIN, n - i) + 1):
                ea += le[i + a - 1]
                rb = ""
                for b in range(1, min(MAX_JOIN, m - j) + 1):
                    rb += lr[j + b - 1]
                    if len(rb) > len(ea):
                        break
                    if a == b == 1 or rb != ea:   # a join: loose concatenations agree
                        continue
                    raw_e = "".join(t for _, t in exp[i:i + a])
                    raw_r = "".join(t for _, t in red[j:j + b])
                    if a == b and raw_e != raw_r:   # same count: only a pure re-split ("HEL LO"/"HE LLO")
                        continue
                    steps.append((a, b, "spacing", 0.5 + 0.25 * len(classify_pair(raw_e, raw_r))))
            for di, dj, op, w in steps:
                if c + w < cost[i + di][j + dj] - 1e-12:
                    cost[i + di][j + dj] = c + w
                    back[i + di][j + dj] = (di, dj, op)
    ops: list[tuple[int, int, int, int, str]] = []
    i, j = n, m
    while i or j:
        di, dj, op = back[i][j]  # type: ignore[misc]
        ops.append((i - di, j - dj, di, dj, op))
        i, j = i - di, j - dj
    return _gap_errors(exp, red, insert_at, ops[::-1])


def _gap_errors(exp: list[tuple[int, str]], red: list[tuple[int, str]], insert_at: int,
                ops: list[tuple[int, int, int, int, str]]) -> list[TypoError]:
    """Classify an edit program's steps (i, j, tokens taken from exp, from red, op) as errors."""
    n = len(exp)
    errors: list[TypoError] = []
    for i, j, di, dj, op in ops:
        pos = exp[i][0] if i < n else insert_at
        e_txt = " ".join(t for _, t in exp[i:i + di])
        r_txt = " ".join(t for _, t in red[j:j + dj])
        if op == "drop":
            errors.append(TypoError("punctuation" if not strip_punct(e_txt) else "missing", e_txt, "", pos))
        elif op == "add":
            errors.append(TypoError("punctuation" if not strip_punct(r_txt) else "extra", "", r_txt, pos))
        elif op == "spacing":
            errors += [TypoError(k, e_txt, r_txt, pos)
                       for k in ["spacing"] + classify_pair(e_txt.replace(" ", ""), r_txt.replace(" ", ""))]
        else:
            errors += [TypoError(k, e_txt, r_txt, pos) for k in classify_pair(e_txt, r_txt)]
    return errors


def _split_moved(tokens: Sequence[str], aligned: set[int], moved: Counter) -> tuple[list[int], list[int]]:
    """Indices of the unaligned tokens: (read out of order, up to `moved`'s count per text; the rest)."""
    left = Counter(moved)
    out_of_order: list[int] = []
    free: list[int] = []
    for i, t in enumerate(tokens):
        if i in aligned:
            continue
        if left[t] > 0:
            left[t] -= 1
            out_of_order.append(i)
        else:
            free.append(i)
    return out_of_order, free


def classify_errors(expected: str, read: str) -> list[TypoError]:
    """Every typography error of `read` against `expected` (both raw text), in expected order.
    An empty list means the strict texts agree token for token."""
    E, R = strict_tokens(expected), strict_tokens(read)
    anchors = _lcs_pairs(E, R)
    aligned_e = {i for i, _ in anchors}
    aligned_r = {j for _, j in anchors}
    # step 2: tokens unaligned on both sides are read out of order
    common = Counter(E[i] for i in range(len(E)) if i not in aligned_e) & \
        Counter(R[j] for j in range(len(R)) if j not in aligned_r)
    moved_e, free_e = _split_moved(E, aligned_e, common)
    _, free_r = _split_moved(R, aligned_r, common)
    errors = [TypoError("order", E[i], E[i], i) for i in moved_e]
    # step 3: the gaps between anchors
    bounds = [(-1, -1)] + anchors + [(len(E), len(R))]
    for (i0, j0), (i1, j1) in zip(bounds, bounds[1:]):
        ge = [(i, E[i]) for i in free_e if i0 < i < i1]
        gr = [(j, R[j]) for j in free_r if j0 < j < j1]
        if ge or gr:
            errors += _align_gap(ge, gr, insert_at=i1 if i1 < len(E) else len(E))
    return sorted(errors, key=lambda e: (e.position, ERROR_CLASSES.index(e.kind)))


def error_counts(errors: Iterable[TypoError]) -> dict[str, int]:
    """Errors per class, every class present (0 when none)."""
    c = Counter(e.kind for e in errors)
    return {k: c.get(k, 0) for k in ERROR_CLASSES}


def aggregate_error_counts(details: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum of per-image error counts over OCR verdict details (each with an "error_counts"
    mapping, as OCRJudge stores): {"images", "images_with_errors", "errors": {class: total},
    "images_with": {class: images having at least one}}. Details without counts are skipped."""
    total = Counter({k: 0 for k in ERROR_CLASSES})
    having = Counter({k: 0 for k in ERROR_CLASSES})
    images = with_errors = 0
    for d in details:
        counts = d.get("error_counts") if d else None
        if not isinstance(counts, Mapping):
            continue
        images += 1
        with_errors += any(counts.get(k, 0) for k in ERROR_CLASSES)
        for k in ERROR_CLASSES:
            total[k] += int(counts.get(k, 0))
            having[k] += bool(counts.get(k, 0))
    return {"images": images, "images_with_errors": with_errors,
            "errors": {k: total[k] for k in ERROR_CLASSES}, "images_with": {k: having[k] for k in ERROR_CLASSES}}
