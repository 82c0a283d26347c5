from __future__ import annotations

import pytest

from tests.reports.browser import Browser, find_chromium


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Debian's chromium; .ci/run installs it)."""
    if find_chromium() is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (the report tests need a real browser)")
    with Browser() as b:
        yield b
