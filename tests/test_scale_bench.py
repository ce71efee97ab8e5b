"""``bench/run --quick`` works end to end (CI runs it here; times are printed, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick_runs_and_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(ROOT / "bench" / "run"), "--quick", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    sys.stdout.write(done.stdout)  # the figures, for the CI log
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["mode"] == "quick" and not result["failed"]
    names = {f["name"] for f in result["figures"]}
    assert {"stack.bare_spiff.complete_median", "stack.sqlite.complete_median", "stack.sqlite.ratio_to_bare",
            "state.bytes_at_end", "posters.a3_pdf_per_item", "ledger.sqlite.view.10^4",
            "ledger.sqlite.statement.10^4"} <= names
    from bench.common import pg_available

    if pg_available():
        assert {"stack.postgresql.ratio_to_bare", "stack.postgresql.statements_alone_median", "queries.worklist.10^5", "queries.board.10^5",
                "timers.find_1000_due_of_100000", "throughput.gunicorn_w1", "throughput.gunicorn_w2",
                "throughput.gunicorn_w4"} <= names
        plans = next(f for f in result["figures"] if f["name"] == "queries.worklist.10^5")["detail"]
        assert plans["seq_scans"] == "none", "the worklist must be an indexed query"
    for line in done.stdout.splitlines():
        assert "FAILED" not in line, line
