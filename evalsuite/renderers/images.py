"""Pre-rendered images from a folder, so models run elsewhere can be scored (`evalsuite score`).

Naming (docs/renderers.md): `<case_id>_s<seed>.png`, or `<case_id>/<seed>.png`; .jpg, .jpeg and
.webp are accepted too. The fingerprint hashes the contents of every image file in the folder, so
replacing an image invalidates the cached renders (verdicts stay keyed by pixel hash).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from evalsuite.renderers.base import Renderer, check_options
from evalsuite.renderers.hashing import files_digest
from evalsuite.types import EvalsuiteError, Rendered, RenderRequest

logger = logging.getLogger(__name__)

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


def candidate_names(case_id: str, seed: int) -> list[str]:
    """Relative file names tried, in order, for (case_id, seed)."""
    return ([f"{case_id}_s{seed}{ext}" for ext in EXTENSIONS]
            + [f"{case_id}/{seed}{ext}" for ext in EXTENSIONS])


class ImagesRenderer(Renderer):
    """Reads `<case_id>_s<seed>.png` (or `<case_id>/<seed>.png`) from a folder."""

    name = "images"
    options = frozenset({"batch_size"})

    def __init__(self, folder: Path, batch_size: int = 16) -> None:
        self.folder = folder
        self._batch = batch_size
        self._fingerprint: str | None = None

    @classmethod
    def from_checkpoint(cls, ckpt: str, **opts: Any) -> "ImagesRenderer":
        folder = Path(ckpt.removeprefix("images:")).expanduser()
        if not folder.is_dir():
            raise EvalsuiteError(f"image folder {folder} does not exist; pass a folder of "
                                 "<case_id>_s<seed>.png files (see docs/renderers.md)")
        check_options(opts, cls.options, f"images renderer for {folder}")
        batch = opts.get("batch_size", 16)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise EvalsuiteError(f"images renderer for {folder}: batch_size must be a positive integer, got {batch!r}")
        return cls(folder.resolve(), batch)

    @property
    def batch_size(self) -> int:
        return self._batch

    def image_files(self) -> list[Path]:
        """Every image file that a request could resolve to (top level and one folder down)."""
        files = [f for f in self.folder.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS]
        for sub in self.folder.iterdir():
            if sub.is_dir() and not sub.name.startswith("."):
                files += [f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS]
        return files

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = files_digest(self.image_files(), self.folder)
            self._fingerprint = "images-" + hashlib.sha256(digest.encode()).hexdigest()[:24]
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {"renderer": self.name, "checkpoint": str(self.folder), "fingerprint": self.fingerprint(),
                "nfe": None, "images": len(self.image_files())}

    def find(self, case_id: str, seed: int) -> Path:
        for name in candidate_names(case_id, seed):
            p = self.folder / name
            if p.is_file():
                return p
        raise EvalsuiteError(f"case '{case_id}' seed {seed}: no image in {self.folder}; expected "
                             f"{case_id}_s{seed}.png (or {case_id}/{seed}.png; .jpg/.jpeg/.webp also accepted)")

    def render(self, requests: Sequence[RenderRequest]) -> list[Rendered]:
        out = []
        for r in requests:
            path = self.find(r.case_id, r.seed)
            try:
                with Image.open(path) as im:
                    im.load()
                    image = im.convert("RGB")
            except OSError as e:
                raise EvalsuiteError(f"{path}: cannot read image for case '{r.case_id}' seed {r.seed} ({e})") from e
            w, h = image.size
            if (r.width is not None and w != r.width) or (r.height is not None and h != r.height):
                raise EvalsuiteError(f"{path}: image is {w}x{h} but case '{r.case_id}' asks for "
                                     f"{r.width or w}x{r.height or h}; re-render at the requested size")
            out.append(Rendered(r, image, 0.0))
        return out
