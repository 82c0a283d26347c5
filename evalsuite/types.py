"""Core public types of evalsuite: cases, render requests, judge inputs and verdicts.

Everything a judge, renderer or report needs to know lives here; judges import only this module
(and `evalsuite.judge`). All types are plain frozen dataclasses so they hash, compare and
serialise predictably.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image

CaseKind = Literal["t2i", "edit"]


class EvalsuiteError(Exception):
    """A user-facing error: one line naming the file, line, case or setting at fault.

    The CLI prints it without a traceback and exits with `exit_code`.
    """

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class BackgroundSpec:
    """What the flat background of a case should look like.

    color:  requested RGB colour (0-255), or None when only flatness is asked for.
    region: (x0, y0, x1, y1) as fractions of width/height where the background is expected to be
            flat; None means "estimate the flat region from the image" (text/objects excluded).
    """

    color: tuple[int, int, int] | None = None
    region: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"color": list(self.color) if self.color else None,
                "region": list(self.region) if self.region else None}


@dataclass(frozen=True)
class Case:
    """One benchmark case. `prompt` is the instruction for edit cases."""

    id: str
    kind: CaseKind
    prompt: str
    seeds: tuple[int, ...]
    source: Path | None = None           # edit source image (absolute path inside the pack's assets/)
    tags: tuple[str, ...] = ()
    expected_text: tuple[str, ...] = ()  # strings that must appear (typography checks)
    background: BackgroundSpec | None = None
    width: int | None = None             # requested size; None = the renderer's default
    height: int | None = None
    questions: tuple[str, ...] = ()      # yes/no questions for VQAScore-style judges
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "prompt": self.prompt, "seeds": list(self.seeds),
            "source": self.source.name if self.source else None, "tags": list(self.tags),
            "expected_text": list(self.expected_text),
            "background": self.background.to_dict() if self.background else None,
            "width": self.width, "height": self.height, "questions": list(self.questions),
            "meta": self.meta,
        }
        return d

    def content_hash(self) -> str:
        """Hash of everything that changes what is rendered or judged for this case.

        Seeds are excluded (they key renders separately), the source image is hashed by content.
        """
        d = self.to_dict()
        d.pop("seeds")
        if self.source is not None:
            d["source"] = file_sha256(self.source) if self.source.exists() else f"missing:{self.source}"
        blob = json.dumps(d, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class RenderRequest:
    """A canonical, small request: prompt, optional source image, seed and size."""

    case_id: str
    prompt: str
    seed: int
    width: int | None = None
    height: int | None = None
    source: Image.Image | None = field(default=None, compare=False, hash=False)
    kind: CaseKind = "t2i"


@dataclass
class Rendered:
    request: RenderRequest
    image: Image.Image
    latency_s: float   # wall time per image (batch time / batch size)


@dataclass
class JudgeInput:
    """What a judge sees for one (case, seed): the image under test and its references.

    `role` is the model the image came from ("student", "teacher", or a run label).
    `teacher_image` is the teacher's image for the same case and seed (None when judging the
    teacher itself or when no teacher was given). `source_image` is the edit source.
    """

    case: Case
    seed: int
    image: Image.Image
    image_hash: str
    role: str = "student"
    teacher_image: Image.Image | None = None
    teacher_hash: str | None = None
    source_image: Image.Image | None = None


@dataclass
class Verdict:
    """One score: (case, seed, judge, metric). A failed judgement has ok=False, value=None."""

    case_id: str
    seed: int            # -1 for case-level metrics (e.g. diversity across seeds)
    judge: str
    metric: str
    value: float | None
    ok: bool = True
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ok and self.value is None:
            raise ValueError(f"verdict {self.judge}.{self.metric} for {self.case_id} is ok but has no value")
        if not self.ok and self.value is not None:
            raise ValueError(f"failed verdict {self.judge}.{self.metric} for {self.case_id} must not carry a value")

    @classmethod
    def failure(cls, item: JudgeInput | Case, judge: str, metric: str, error: str,
                seed: int | None = None, detail: dict[str, Any] | None = None) -> "Verdict":
        case = item.case if isinstance(item, JudgeInput) else item
        s = item.seed if isinstance(item, JudgeInput) else (-1 if seed is None else seed)
        return cls(case.id, s, judge, metric, None, ok=False, error=error, detail=detail or {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MetricSpec:
    """Direction and range of one metric, declared by its judge (the pyiqa preset idea)."""

    higher_is_better: bool
    range: tuple[float, float | None] = (0.0, 1.0)   # None upper bound = unbounded
    description: str = ""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_sha256(image: Image.Image) -> str:
    """Content hash of decoded pixels (mode + size + bytes), independent of PNG encoder settings."""
    h = hashlib.sha256()
    h.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def group_hash(image_hashes: list[str] | tuple[str, ...]) -> str:
    """Hash of a set of images (e.g. all seeds of one case) for case-level verdicts."""
    return hashlib.sha256("|".join(sorted(image_hashes)).encode()).hexdigest()
