"""store.RunReader: the one typed, read-only reader of a run directory."""

from __future__ import annotations

import sqlite3

import pytest

from evalsuite.store import CaseRow, RunReader, VerdictRow, current_reference
from evalsuite.types import EvalsuiteError
from tests.reports.make_run import make_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("reader") / "r", n_cases=6, seeds=(0, 1))


def test_typed_rows_match_the_database(run_dir):
    db = sqlite3.connect(run_dir / "results.db")
    with RunReader(run_dir) as rd:
        assert rd.roles() == ["student", "teacher"]
        cases = rd.cases()
        assert all(isinstance(c, CaseRow) for c in cases) and len(cases) == 6
        assert [c.case_id for c in cases] == sorted(c.case_id for c in cases)
        items = rd.items("student")
        assert len(items) == 12 and items[0].role == "student"
        vs = rd.verdicts("student")
        assert all(isinstance(v, VerdictRow) for v in vs)
        per_image = [v for v in vs if v.seed >= 0]
        n_db = db.execute("SELECT COUNT(*) FROM items i JOIN verdicts v ON v.image_hash=i.image_hash "
                          "AND v.case_hash=i.case_hash AND v.seed=i.seed WHERE i.role='student'").fetchone()[0]
        assert len(per_image) == n_db
        case_level = [v for v in vs if v.seed == -1]
        assert {v.key for v in case_level} == {"diversity.lpips_spread"} and len(case_level) == 6
        assert not any(v.ok for v in vs if v.key == "vlm-t2i.overall" and v.value is None)
        stats = rd.render_stats("student")
        assert stats.images == 12 and stats.mean_latency_s == pytest.approx(0.047)
        assert rd.image_path(items[0].image_hash).is_file()


def test_reader_is_read_only_and_errors_name_the_file(run_dir, tmp_path):
    with RunReader(run_dir) as rd:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            rd._db.execute("DELETE FROM verdicts")
    with pytest.raises(EvalsuiteError, match="results.db is missing"):
        RunReader(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.db").write_bytes(b"not sqlite at all" * 10)
    with pytest.raises(EvalsuiteError, match=r"bad/results.db: not a readable"):
        RunReader(bad)


def test_current_reference_rule():
    """Per (judge id, case, seed): the verdict against the current teacher image wins over the one
    made without a reference; a verdict against an older teacher image never counts."""
    def row(ref: str, value: float) -> VerdictRow:
        return VerdictRow("c", 0, "fid", "psnr", value, True, None, {}, "fid@1", ref)
    rows = [row("", 1.0), row("old-teacher", 2.0), row("cur-teacher", 3.0)]
    assert [r.value for r in current_reference(rows, {("c", 0): "cur-teacher"})] == [3.0]
    assert [r.value for r in current_reference(rows[:2], {("c", 0): "cur-teacher"})] == [1.0]
    assert [r.value for r in current_reference(rows, {})] == [1.0]
