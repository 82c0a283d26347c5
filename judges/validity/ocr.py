"""Known-truth suite for the OCR typography judge.

Items (all drawn here, from a seeded generator; words are random pseudo-words, never pack text):
  * clean text across the four shipped DejaVu faces, several colours and positions, at a ladder
    of sizes relative to the image height (headline 12% -> small print 2%), in Latin, digits and
    symbols, Latin with diacritics, and Chinese;
  * planted typography errors of each class (missing, extra, substitution, case-only,
    punctuation-only, spacing, order): the image shows the wrong text, the case expects the right
    one. Each planted image has a clean twin (same font, size, colour, place); a planted error is
    counted only where the twin was read exactly, so the detection rate measures the metric's
    strictness, not the engine's misses.

Checks: read rate per size and script (strict exact match on clean text), detection rate of
planted errors per class (strict exact match must be 0), and, where the judge reports them, the
error class it names and the loose metrics' tolerance of case/punctuation-only differences.
"""

from __future__ import annotations

import random
from typing import Any

from judges.validity import Check, score_items
from judges.validity.draw import case, cjk_font, draw_text, item, latin_fonts

SIZE = (768, 384)                      # width, height
SIZES = {"headline": 0.12, "large": 0.08, "medium": 0.055, "small": 0.035, "tiny": 0.02}
READABLE = ("headline", "large", "medium")
CLASSES = ("missing", "extra", "substitution", "case-only", "punctuation-only", "spacing", "order")
CONSONANTS = "bcdfghjklmnprstvwz"
VOWELS = "aeiou"
DIACRITIC_WORDS_VOWELS = {"a": "áàâä", "e": "éèêë", "o": "óôö", "u": "úüû", "i": "íî", "n": "ñ", "c": "ç"}
CJK_CHARS = ("春夏秋冬东南西北上下左右大小多少天地山水火木金土日月年时人口手心书店"
             "茶咖啡面包新鲜特价优惠开门营业欢迎光临中文字体清晰图片价格")
COLOURS = [((20, 20, 20), (250, 250, 246)), ((250, 250, 250), (30, 60, 140)),
           ((200, 30, 30), (245, 240, 225)), ((255, 220, 40), (20, 20, 20)),
           ((30, 90, 40), (230, 240, 230))]


def pseudo_word(rng: random.Random, lo: int = 2, hi: int = 3) -> str:
    return "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(lo, hi)))


def styled(word: str, rng: random.Random) -> str:
    return rng.choice([word.upper(), word.capitalize(), word])


def symbol_token(rng: random.Random) -> str:
    """Digits and symbols as typography shows them: prices, percentages, dates, times, codes."""
    k = rng.randrange(6)
    if k == 0:
        return f"${rng.randint(1, 99)}.{rng.randint(0, 99):02d}"
    if k == 1:
        return f"{rng.choice([10, 15, 20, 25, 30, 40, 50, 70])}% OFF!"
    if k == 2:
        return f"{rng.randint(2020, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if k == 3:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if k == 4:
        return f"#{rng.choice('ABCDEFGH')}-{rng.randint(10, 999)}"
    return f"€{rng.randint(2, 500)},{rng.randint(0, 99):02d}"


def diacritic_word(rng: random.Random) -> str:
    w = list(pseudo_word(rng, 2, 3))
    idx = [i for i, ch in enumerate(w) if ch in DIACRITIC_WORDS_VOWELS]
    for i in rng.sample(idx, k=min(len(idx), rng.randint(1, 2))):
        w[i] = rng.choice(DIACRITIC_WORDS_VOWELS[w[i]])
    return styled("".join(w), rng) if rng.random() < 0.5 else "".join(w).capitalize()


def cjk_word(rng: random.Random) -> str:
    return "".join(rng.choice(CJK_CHARS) for _ in range(rng.randint(2, 5)))


def phrase(rng: random.Random) -> list[str]:
    """Three to four tokens, one of them digits/symbols, so that every error class applies."""
    words = [styled(pseudo_word(rng), rng) for _ in range(rng.randint(2, 3))]
    words.insert(rng.randrange(len(words) + 1), symbol_token(rng))
    return words


def plant(tokens: list[str], cls: str, rng: random.Random) -> str:
    """The text with one error of class `cls` (always different from the original)."""
    t = list(tokens)
    letters = [i for i, w in enumerate(t) if any(ch.isalpha() for ch in w)]
    if cls == "missing":
        del t[rng.randrange(len(t))]
    elif cls == "extra":
        t.insert(rng.randrange(len(t) + 1), styled(pseudo_word(rng), rng))
    elif cls == "substitution":
        i = rng.choice(letters)
        chars = list(t[i])
        j = rng.choice([k for k, ch in enumerate(chars) if ch.isalpha()])
        pool = [c for c in CONSONANTS if c != chars[j].lower()]
        new = rng.choice(pool)
        chars[j] = new.upper() if chars[j].isupper() else new
        t[i] = "".join(chars)
    elif cls == "case-only":
        i = rng.choice(letters)
        t[i] = t[i].lower() if t[i] != t[i].lower() else t[i].upper()
    elif cls == "punctuation-only":
        i = next(k for k, w in enumerate(t) if any(not ch.isalnum() for ch in w))
        t[i] = "".join(ch for ch in t[i] if ch.isalnum() or ch == " ")
    elif cls == "spacing":
        i = rng.randrange(len(t) - 1)
        t[i:i + 2] = [t[i] + t[i + 1]]
    elif cls == "order":
        i = rng.randrange(len(t) - 1)
        t[i], t[i + 1] = t[i + 1], t[i]
    out = " ".join(t)
    return out if out != " ".join(tokens) else plant(tokens, cls, rng)


def _draw(text: str, px_frac: float, rng: random.Random, fonts: list[Any]) -> Any:
    fg, bg = rng.choice(COLOURS)
    pos = (rng.uniform(0.4, 0.6), rng.uniform(0.3, 0.7))
    return draw_text(text, SIZE, rng.choice(fonts), max(6, round(px_frac * SIZE[1])), fg, bg, pos)


def suite(judge_factory: Any, quick: bool = True, seed: int = 0) -> list[Check]:
    rng = random.Random(seed)
    n = 6 if quick else 16
    fonts = latin_fonts()
    items, meta = [], []

    def add(expected: str, shown: str, px: float, group: str, cls: str | None = None,
            twin: int | None = None, font_list: list[Any] | None = None) -> int:
        sub = random.Random(rng.random())
        img = _draw(shown, px, sub, font_list or fonts)
        items.append(item(case(f"v{len(items)}", expected_text=[expected]), img))
        meta.append({"group": group, "cls": cls, "twin": twin, "expected": expected, "shown": shown})
        return len(items) - 1

    for name, frac in SIZES.items():                     # size ladder, Latin phrases
        for _ in range(n):
            text = " ".join(phrase(rng))
            add(text, text, frac, f"size:{name}")
    for _ in range(n):                                    # scripts at a readable size
        w = " ".join([symbol_token(rng), symbol_token(rng)])
        add(w, w, SIZES["large"], "script:digits+symbols")
        d = " ".join(diacritic_word(rng) for _ in range(2))
        add(d, d, SIZES["large"], "script:diacritics")
    try:
        cjk = [cjk_font()]
        for _ in range(n):
            c = cjk_word(rng)
            add(c, c, SIZES["large"], "script:chinese", font_list=cjk)
            m = f"{styled(pseudo_word(rng), rng)} {cjk_word(rng)}"
            add(m, m, SIZES["large"], "script:mixed", font_list=cjk)
        cjk_error = None
    except Exception as e:  # noqa: BLE001 - reported as a failed check, never skipped
        cjk_error = str(e)
    for cls in CLASSES:                                   # planted errors with clean twins
        for _ in range(n):
            tokens = phrase(rng)
            right = " ".join(tokens)
            px = SIZES[rng.choice(READABLE)]
            state = rng.random()
            r1 = random.Random(state)
            img_ok = _draw(right, px, r1, fonts)
            wrong = plant(tokens, cls, random.Random(rng.random()))
            img_bad = _draw(wrong, px, random.Random(state), fonts)
            items.append(item(case(f"v{len(items)}", expected_text=[right]), img_ok))
            meta.append({"group": "twin", "cls": cls, "twin": None, "expected": right, "shown": right})
            items.append(item(case(f"v{len(items)}", expected_text=[right]), img_bad))
            meta.append({"group": "planted", "cls": cls, "twin": len(items) - 2, "expected": right,
                         "shown": wrong})
    judge = judge_factory()
    try:
        scored = score_items(judge, items)
    finally:
        judge.close()
    return _checks(judge.name, scored, meta, cjk_error)


def _em(s: Any, metric: str = "exact_match") -> float | None:
    return s.values.get(metric)


def _checks(name: str, scored: list[Any], meta: list[dict[str, Any]], cjk_error: str | None) -> list[Check]:
    checks: list[Check] = []
    floors = {"size:headline": 0.9, "size:large": 0.9, "size:medium": 0.8, "size:small": 0.3,
              "size:tiny": 0.0, "script:digits+symbols": 0.8, "script:diacritics": 0.3,
              "script:chinese": 0.8, "script:mixed": 0.6}
    for group, floor in floors.items():
        idx = [i for i, m in enumerate(meta) if m["group"] == group]
        if not idx:
            checks.append(Check(name, f"clean text read exactly ({group})", "rate", None, floor,
                                error=cjk_error or "no items"))
            continue
        vals = [_em(scored[i]) for i in idx]
        ok = [v for v in vals if v is not None]
        misses = [meta[i]["expected"] for i, v in zip(idx, vals) if v == 0.0][:3]
        checks.append(Check(name, f"clean text read exactly ({group})", "rate",
                            sum(ok) / len(ok) if ok else None, floor, n=len(ok),
                            failures=len(vals) - len(ok), detail={"examples_missed": misses}))
    det_all: list[float] = []
    for cls in CLASSES:
        pairs = [(i, m["twin"]) for i, m in enumerate(meta) if m["group"] == "planted" and m["cls"] == cls]
        usable = [i for i, t in pairs if _em(scored[t]) == 1.0 and _em(scored[i]) is not None]
        det = [1.0 - _em(scored[i]) for i in usable]
        det_all += det
        checks.append(Check(name, f"planted {cls} error detected (strict exact_match = 0)", "rate",
                            sum(det) / len(det) if det else None, 1.0, n=len(det),
                            detail={"pairs": len(pairs), "twin_read_exactly": len(usable)},
                            error=None if det else "no clean twin was read exactly"))
        loose = [scored[i].values.get("exact_match_loose") for i in usable]
        if cls in ("case-only", "punctuation-only") and any(v is not None for v in loose):
            lv = [v for v in loose if v is not None]
            checks.append(Check(name, f"loose exact match tolerates {cls} differences", "rate",
                                sum(lv) / len(lv), 0.8, n=len(lv)))
    return checks
