"""``bench/report [FILE.json …]``: write README's performance tables from committed bench results.

Every figure in README's tables 性能 / Performance and 用时 / Render times comes from a JSON file
that ``bench/run`` wrote (``bench/results/*.json``, committed with ``git add -f``): no figure is
typed by hand. With files, the tables are made from them (a later file's figure replaces an
earlier one's of the same name) and README names the files in its markers; without files, the
files README already names are read again (what ``tests/test_bench_report.py`` checks: README's
tables are exactly what this produces).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TABLES = ("performance", "render-times")
_BLOCK = re.compile(r"<!-- bench/report:(?P<name>[\w-]+) sources=(?P<sources>\S+) -->\n(?P<body>.*?)"
                    r"<!-- /bench/report:(?P=name) -->", re.S)


# -- reading ------------------------------------------------------------------------------------
def load(paths: list[Path]) -> tuple[dict[str, dict], list[dict]]:
    """The figures by name (later files win) and the runs they came from."""
    figures: dict[str, dict] = {}
    runs = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        run = {"file": _rel(path), "at": data["at"], "mode": data["mode"],
               "commit": data["machine"].get("commit") or "?", "load": data["machine"].get("loadavg_start", [0])[0],
               "load_end": (data["machine"].get("loadavg_end") or [0])[0]}
        run["index"] = len(runs)
        runs.append(run)
        for fig in data["figures"]:
            figures[fig["name"]] = {**fig, "run": run}
    return figures, runs


def _rel(path: Path) -> str:
    path = path.resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()


# -- formatting ---------------------------------------------------------------------------------
def num(value: float | None, digits: int = 3) -> str:
    """Three significant digits, never scientific notation: 3.31, 14.8, 197, 19200."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    magnitude = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    decimals = max(0, digits - magnitude) if abs(value) >= 1 else digits - 1
    if abs(value) < 1:
        text = f"{value:.{digits}g}"
        return text if "e" not in text else f"{value:.6f}".rstrip("0")
    return f"{value:.{decimals}f}"


def verdict(met: bool | None, extra: str = "") -> str:
    if met is None:
        return extra
    word = "达到" if met else "**未达到**"
    return f"{word}（{extra}）" if extra else word


def _fig(figures: dict, name: str) -> dict | None:
    fig = figures.get(name)
    return fig if fig is not None and fig.get("value") is not None else None


def _sizes(figures: dict, prefix: str) -> list[dict]:
    found = [f for n, f in figures.items() if n.startswith(prefix) and f.get("value") is not None]
    return sorted(found, key=lambda f: int(f["name"].rsplit("^", 1)[-1]))


SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _size_label(fig: dict) -> str:
    return "10" + fig["name"].rsplit("^", 1)[-1].translate(SUPERSCRIPT)


# -- the tables ---------------------------------------------------------------------------------
def performance_rows(figures: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    bare = _fig(figures, "stack.bare_spiff.complete_median")
    if bare:
        rows.append(_marked(bare, ("裸 SpiffWorkflow 办理一步：载入（含完整流程定义的 JSON 字符串）→ 办理 → 保存，中位数",
                     f"{num(bare['value'])} ms（p95 {num(bare['detail']['p95_ms'])} ms）", "—", "基准")))
    for name in ("sqlite", "postgresql"):
        fig, ratio = _fig(figures, f"stack.{name}.complete_median"), _fig(figures, f"stack.{name}.ratio_to_bare")
        if fig and ratio:
            what = ("经由整个系统办理一步（HTTP → 引擎 → 数据库），SQLite，中位数" if name == "sqlite"
                    else "同上，PostgreSQL")
            rows.append(_marked(fig, (what, f"{num(fig['value'])} ms（p95 {num(fig['detail']['p95_ms'])} ms）", "≤ 2 × 裸引擎",
                         verdict(ratio["met"], f"{num(ratio['value'])} ×"))))
    alone, bare = _fig(figures, "stack.postgresql.statements_alone_median"), _fig(figures, "stack.bare_spiff.complete_median")
    if alone and bare:
        left = 2 * bare["value"] - alone["value"]
        rows.append(_marked(alone, (f"其中 PostgreSQL 本身：一次办理的 {alone['detail']['statements']} 条 SQL（同样的语句和参数）"
                                    "用裸驱动 psycopg 执行并提交，不经 SQLAlchemy、Flask，中位数",
                     f"{num(alone['value'])} ms（p95 {num(alone['detail']['p95_ms'])} ms）", "—",
                     f"2 × 裸引擎减去它，剩 {num(left)} ms 给 HTTP、Flask、SQLAlchemy、表单和 SpiffWorkflow")))
    state = _fig(figures, "state.bytes_at_end")
    if state:
        rows.append(_marked(state, ("四议两公开办结时的事项状态 `case_instance.state`",
                     f"{num(state['value'])} KB（未压缩 {num(state['detail']['uncompressed_kb'])} KB）", "≤ 12 KB",
                     verdict(state["met"]))))
    for what, title in (("worklist", "待办清单 `Engine.list_tasks`，PostgreSQL"), ("board", "公开栏 `Engine.board`，PostgreSQL")):
        sizes = _sizes(figures, f"queries.{what}.")
        if sizes:
            unit = "条任务" if what == "worklist" else "条公示"
            last = sizes[-1]
            rows.append(_marked(last, (f"{title}，{' / '.join(_size_label(f) for f in sizes)} {unit}",
                         " / ".join(num(f["value"]) for f in sizes) + " ms",
                         f"{_size_label(last)} ≤ 1.5 × {_size_label(sizes[0])}",
                         verdict(last["met"], f"{num(last['detail']['ratio_to_10^3'])} ×"))))
    due = _fig(figures, "timers.find_1000_due_of_100000")
    if due:
        rows.append(_marked(due, ("在 10 万个等待中的事项里找出 1000 个到期的（`due_case_ids`），PostgreSQL",
                     f"{num(due['value'])} ms（最慢 {num(due['detail']['max_ms'])} ms）", "< 1 s", verdict(due["met"]))))
    fire = next((f for n, f in figures.items() if n.startswith("timers.fire_") and f.get("value") is not None), None)
    if fire:
        count = fire["name"].split("_")[1]
        rows.append(_marked(fire, (f"一个 worker 触发 {count} 个到期定时（载入、办理、保存、任务行与审计）",
                     f"{num(fire['value'])} s（每个 {num(fire['detail']['per_case_ms'])} ms）", "—", "")))
    pdf = _fig(figures, "posters.a3_pdf_per_item")
    if pdf:
        d = pdf["detail"]
        rows.append(_marked(pdf, (f"一张 A3 PDF 海报（{d['items']} 个事项，不用缓存）",
                     f"中位 {num(pdf['value'])} s，最慢 {num(d['max_s'])} s（{d['slowest']}）", "每项 < 1 s",
                     verdict(pdf["met"]))))
    workers = sorted((f for n, f in figures.items() if n.startswith("throughput.gunicorn_w") and f.get("value")),
                     key=lambda f: int(f["name"].rsplit("w", 1)[-1]))
    if workers:
        counts = " / ".join(f["name"].rsplit("w", 1)[-1] for f in workers)
        speed = next((f for f in workers if f["name"].endswith("_w2")), None)
        rows.append(_marked(workers[0], (f"gunicorn 吞吐量，PostgreSQL，{counts} 个 worker（各村一个客户端线程，发起+办理）",
                     " / ".join(num(f["value"]) for f in workers) + " 请求/秒", "随 worker 增长",
                     f"1→2 个：{num(speed['detail']['speedup_vs_w1'])} ×" if speed else "")))
    drain = next((f for n, f in figures.items() if n.startswith("notices.drain_") and f.get("value") is not None), None)
    if drain:
        d = drain["detail"]
        rows.append(_marked(drain, (f"一个 worker 发出 {drain['name'].split('_')[1]} 条通知（outbox，PostgreSQL）",
                     f"{num(drain['value'])} s（每条 {num(d['per_message_ms'])} ms）", "最后一成 < 2 × 第一成",
                     verdict(drain["met"], f"{num(d['ratio_last_first'])} ×"))))
    upload = _fig(figures, "evidence.upload_5mb_photo")
    if upload:
        d = upload["detail"]
        rows.append(_marked(upload, (f"上传一张 {num(d['mb'], 2)} MB 照片（HTTP → 类型判断与完整解码 → SHA-256 → 写盘 → 登记），"
                     f"SQLite，{d['runs']} 次中位数", f"{num(upload['value'])} s（最慢 {num(d['max_s'])} s）", "—", "")))
    dossier = _fig(figures, "evidence.dossier_pdf")
    if dossier:
        d = dossier["detail"]
        rows.append(_marked(dossier, (f"一份 {d['pages']} 页的 PDF 档案（{d['photos']} 张照片），{d['runs']} 次中位数",
                     f"{num(dossier['value'])} s（{num(d['mb'])} MB）", "—", "")))
    return rows


RENDER_FORMATS = (("posters.svg_per_item", "SVG 流程图"), ("posters.a3_png_per_item", "PNG 海报（A3, 120 dpi）"),
                  ("posters.a3_pdf_per_item", "PDF 海报（A3）"), ("posters.a4_pdf_per_item", "PDF 海报（A4）"))


def render_rows(figures: dict) -> tuple[int, list[tuple[str, str, str, str]]]:
    rows, items = [], 0
    for name, label in RENDER_FORMATS:
        fig = _fig(figures, name)
        if fig is None:
            continue
        per_item = fig["detail"].get("per_item") or {}
        items = max(items, len(per_item))
        rows.append(_marked(fig, (label, f"{num(fig['value'])} s", f"{num(fig['detail']['max_s'])} s（{fig['detail']['slowest']}）",
                     f"{num(sum(per_item.values()))} s")))
    return items, rows


MARKS = "①②③④⑤⑥⑦⑧⑨⑩"


def _marked(fig: dict, cells: tuple[str, ...]) -> tuple[str, ...]:
    """A row with, last, the mark of the run its figure comes from (the runs line names them)."""
    return (*cells, MARKS[fig["run"]["index"]])


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _runs_line(runs: list[dict]) -> str:
    parts = []
    for run in runs:
        at = datetime.fromisoformat(run["at"]).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f"{MARKS[run['index']]} `{run['file']}`（{at}，{'完整' if run['mode'] == 'full' else '快速'}设置，提交 `{run['commit']}`，"
                     f"负载 {run['load']:.1f} → {run['load_end']:.1f}）")
    return "由 `bench/report` 从 " + "、".join(parts) + " 生成。\n"


def render(name: str, paths: list[Path]) -> str:
    figures, runs = load(paths)
    if name == "performance":
        body = _table(("数字", "结果", "目标", "", "运行"), performance_rows(figures))
    elif name == "render-times":
        items, rows = render_rows(figures)
        body = _table(("格式 / format", "每项中位数 / median per item", "最慢 / slowest", f"{items} 项合计 / all {items}",
                       "运行"), rows)
    else:
        raise ValueError(name)
    return "\n" + _runs_line(runs) + "\n" + body + "\n"


# -- README -------------------------------------------------------------------------------------
def blocks(text: str) -> dict[str, tuple[list[Path], str]]:
    """README's generated blocks: name → (source files, body as it stands)."""
    return {m["name"]: ([ROOT / s for s in m["sources"].split(",")], m["body"]) for m in _BLOCK.finditer(text)}


def rewrite(text: str, sources: list[Path] | None = None) -> str:
    found = blocks(text)
    missing = [name for name in TABLES if name not in found]
    if missing:
        raise SystemExit(f"README.md has no block <!-- bench/report:{missing[0]} sources=… --> … "
                         f"<!-- /bench/report:{missing[0]} -->")

    def replace(match: re.Match) -> str:
        name = match["name"]
        paths = sources if sources is not None else [ROOT / s for s in match["sources"].split(",")]
        listed = ",".join(_rel(p) for p in paths)
        return f"<!-- bench/report:{name} sources={listed} -->\n{render(name, paths)}<!-- /bench/report:{name} -->"

    return _BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/report", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="bench/results/*.json (default: the ones README names)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if README differs")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = rewrite(text, [p.resolve() for p in args.files] or None)
    if args.check:
        if new != text:
            print("README.md's performance tables differ from bench/report's", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    print("README.md: tables written from " + ", ".join(str(p) for p in blocks(new)["performance"][0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
