"""Execution flags: impossible combinations are one-line errors (exit 2) before anything runs."""

from __future__ import annotations

import pytest

from evalsuite.cli.main import main


@pytest.mark.parametrize("argv, message", [
    (["--workers", "2"], "--workers needs --executor ray"),
    (["--shared-dir", "/tmp/x"], "--shared-dir needs --executor ray"),
    (["--judge-workers", "-1"], "--judge-workers -1: must be at least 0"),
    (["--executor", "ray", "--workers", "0"], "--workers 0: must be at least 1"),
    (["--full", "--limit", "2"], "--full: only with the bundled default"),
])
def test_bad_execution_flags_exit_2(tmp_path, capsys, argv, message):
    rc = main(["run", "--run-dir", str(tmp_path / "r"), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split())
    assert not (tmp_path / "r").exists()                 # nothing started
