"""Small objects built inside Ray actors by the pool tests (importable by module path)."""

from __future__ import annotations

import os
import time


class Square:
    """Squares numbers slowly; `fail_on` raises inside the method (a task error, not a fault)."""

    def __init__(self, delay_s: float = 0.0, fail_on: int | None = None) -> None:
        self.delay_s, self.fail_on = delay_s, fail_on

    def run(self, x: int) -> tuple[int, int]:
        if x == self.fail_on:
            raise ValueError(f"cannot square {x}")
        time.sleep(self.delay_s)
        return x * x, os.getpid()
