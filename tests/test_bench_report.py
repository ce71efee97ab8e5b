"""README's performance tables are generated (issue 16): ``bench/report`` writes them from committed
``bench/results/*.json``, so no figure in them is typed by hand."""

from __future__ import annotations

import json
import re

from bench import report


def test_readme_tables_are_what_bench_report_makes_of_the_committed_results():
    text = report.README.read_text(encoding="utf-8")
    blocks = report.blocks(text)
    assert set(blocks) == set(report.TABLES)
    for name, (sources, body) in blocks.items():
        assert sources, name
        for path in sources:
            assert path.parent == report.ROOT / "bench" / "results", path
            assert path.is_file(), f"{path} is named by README but not committed (git add -f)"
        assert body == report.render(name, sources), f"README's {name} table differs from `bench/report`'s"
    assert report.rewrite(text) == text


def test_the_render_time_table_and_the_performance_table_agree():
    text = report.README.read_text(encoding="utf-8")
    blocks = report.blocks(text)
    perf, times = blocks["performance"][1], blocks["render-times"][1]
    row = re.search(r"\| 一张 A3 PDF 海报.*?\| 中位 (\S+) s，最慢 (\S+) s（(\S+)）", perf)
    assert row, perf
    median, slowest, item = row.groups()
    assert re.search(rf"\| PDF 海报（A3） \| {re.escape(median)} s \| {re.escape(slowest)} s（{item}）", times), times
    assert blocks["performance"][0] == blocks["render-times"][0] or \
        set(blocks["render-times"][0]) <= set(blocks["performance"][0])


def _result(tmp_path, name, figures, at="2026-12-04T09:00:00+00:00"):
    path = tmp_path / name
    path.write_text(json.dumps({"mode": "full", "at": at, "machine": {"commit": "abc1234", "loadavg_start": [1.0],
                                                                         "loadavg_end": [2.0]},
                                "figures": figures}), encoding="utf-8")
    return path


def test_a_later_run_replaces_a_figure_and_a_missing_figure_is_no_row(tmp_path):
    bare = {"name": "stack.bare_spiff.complete_median", "value": 3.0, "unit": "ms", "target": "", "met": None,
            "detail": {"p95_ms": 5.0}, "note": ""}
    sqlite = {"name": "stack.sqlite.complete_median", "value": 5.5, "unit": "ms", "target": "", "met": None,
              "detail": {"p95_ms": 9.0}, "note": ""}
    ratio = {"name": "stack.sqlite.ratio_to_bare", "value": 1.8333, "unit": "×", "target": "≤ 2", "met": True,
             "detail": {}, "note": ""}
    first = _result(tmp_path, "a.json", [bare, {**sqlite, "value": 9.0}, {**ratio, "value": 3.0, "met": False}])
    second = _result(tmp_path, "b.json", [sqlite, ratio], at="2026-12-04T10:00:00+00:00")
    out = report.render("performance", [first, second])
    assert ("| 经由整个系统办理一步（HTTP → 引擎 → 数据库），SQLite，中位数 | 5.50 ms（p95 9.00 ms） | ≤ 2 × 裸引擎 | "
            "达到（1.83 ×） | ② |") in out  # the later run's figure, marked with its run
    assert "| 基准 | ① |" in out
    assert "① `" in out and "② `" in out
    assert "PostgreSQL" not in out and "海报" not in out  # not measured: no row, no made-up figure
    assert "`" + str(first) + "`" in out and "提交 `abc1234`" in out


def test_numbers_have_three_significant_digits_and_no_exponent():
    assert [report.num(v) for v in (3.3149, 14.84, 197.2, 19234.0, 0.7312, 0.0123, None)] == \
        ["3.31", "14.8", "197", "19234", "0.731", "0.0123", "—"]


def test_the_postgresql_statements_alone_row_says_what_two_times_bare_leaves(tmp_path):
    """The row that shows what PostgreSQL alone costs a completion (its statements through the bare
    driver) and what 2 × the bare engine leaves for everything else: 2 × 3.00 − 3.62 = 2.38 ms."""
    bare = {"name": "stack.bare_spiff.complete_median", "value": 3.0, "unit": "ms", "target": "", "met": None,
            "detail": {"p95_ms": 5.0}, "note": ""}
    alone = {"name": "stack.postgresql.statements_alone_median", "value": 3.62, "unit": "ms", "target": "",
             "met": None, "detail": {"p95_ms": 5.48, "n": 30, "statements": 7}, "note": ""}
    out = report.render("performance", [_result(tmp_path, "a.json", [bare, alone])])
    assert "一次办理的 7 条 SQL" in out and "3.62 ms（p95 5.48 ms）" in out
    assert "剩 2.38 ms 给 HTTP、Flask、SQLAlchemy、表单和 SpiffWorkflow" in out
    assert "PostgreSQL 本身" not in report.render("performance", [_result(tmp_path, "b.json", [bare])])
