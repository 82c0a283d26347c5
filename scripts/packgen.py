"""Shared helpers of the pack generators (scripts/make_packs_*.py): deterministic choice, the
hand-written cases each pack keeps, and writing cases.jsonl.

Each generator keeps the pack's hand-written cases (benchmarks/<pack>/handwritten.jsonl, ids
unchanged, ladder tags added by stated rules) and appends composed cases; re-running a generator
rewrites cases.jsonl byte for byte (tests/test_packs.py checks it).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
T = TypeVar("T")


class Picker:
    """Seeded choices that rotate through a list before repeating (even coverage, still mixed)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._decks: dict[tuple[str, ...], list[Any]] = {}

    def one(self, items: Sequence[T]) -> T:
        key = tuple(map(repr, items))
        deck = self._decks.get(key)
        if not deck:
            deck = list(items)
            self.rng.shuffle(deck)
            self._decks[key] = deck
        return deck.pop()

    def any(self, items: Sequence[T]) -> T:
        return self.rng.choice(list(items))


def read_handwritten(pack: str) -> list[dict[str, Any]]:
    path = BENCH / pack / "handwritten.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_cases(pack: str, cases: list[dict[str, Any]], out: Path | None = None) -> Path:
    path = out or BENCH / pack / "cases.jsonl"
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    return path


def add_tags(case: dict[str, Any], *tags: str) -> dict[str, Any]:
    case["tags"] = list(dict.fromkeys([*case.get("tags", []), *tags]))
    return case


def cjk(s: str) -> bool:
    return any(0x4E00 <= ord(ch) <= 0x9FFF for ch in s)


def generator_main(pack: str, build: Callable[[], list[dict[str, Any]]], doc: str, argv: list[str] | None = None,
                   before: Callable[[argparse.Namespace], None] | None = None,
                   extra: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """The command line every generator shares: `--out FILE` (default the pack's cases.jsonl)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    if extra:
        extra(ap)
    args = ap.parse_args(argv)
    if before:
        before(args)
    print(f"wrote {write_cases(pack, build(), args.out)}")
