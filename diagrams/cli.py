"""``cunwu render KEY… | --all``: write flowcharts (svg) or wall posters (pdf/png) to a folder."""

from __future__ import annotations

import time
from pathlib import Path

import click

from engine.domain.errors import CunwuError, NotFound

from .layout import RenderError
from .service import Diagrams, check_format, check_paper, check_variant


def output_name(key: str, fmt: str, paper: str, village: str | None = None, variant: str = "full") -> str:
    if fmt == "svg":
        return f"{key}.svg"
    suffix = "-villager" if variant == "villager" else ""
    return f"{key}-{paper}{suffix}{('-' + village) if village else ''}.{fmt}"


def render_posters(service: Diagrams, keys, all_: bool, fmt: str, paper: str, out: Path, village: str | None = None,
                   base_url: str | None = None, variant: str | None = None) -> int:
    """Render the named items (or all with ``all_``) into ``out`` with ``service`` (the app's, given
    by the web layer's ``cunwu render``); return the exit status.
    ``variant="villager"``: the simplified villager posters (pdf or png)."""
    try:
        fmt, paper, variant = check_format(fmt), check_paper(paper), check_variant(variant)
    except CunwuError as exc:
        click.echo(exc.message, err=True)
        return 1
    if variant == "villager" and fmt == "svg":
        click.echo("村民版海报只有 pdf、png 格式，请加 --format pdf 或 --format png。", err=True)
        return 1
    known = [p["key"] for p in service.engine.processes()]
    if all_:
        wanted = list(dict.fromkeys([*known, *keys]))
    else:
        wanted = list(dict.fromkeys(keys))
    if not wanted:
        click.echo("请指定要生成的事项（事项编号，如 major-decision），或用 --all 生成全部事项。", err=True)
        return 1
    bad = [k for k in wanted if k not in known]
    if bad:
        names = "、".join(f"“{k}”" for k in bad)
        click.echo(f"没有这些事项：{names}。可用 cunwu processes list 查看全部事项。", err=True)
        return 1
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        click.echo(f"无法创建输出目录 {out}：{exc.strerror}", err=True)
        return 1

    written: list[Path] = []
    started = time.perf_counter()

    def one(key: str) -> None:
        rendered = service.render_process(key, fmt, paper, village, base_url=base_url, variant=variant)
        target = out / output_name(key, fmt, paper, village, variant)
        target.write_bytes(rendered.data)
        written.append(target)

    try:
        if all_:
            with click.progressbar(wanted, label=f"生成{len(wanted)}个事项的{fmt.upper()}",
                                   item_show_func=lambda k: k or "") as bar:
                for key in bar:
                    one(key)
        else:
            for key in wanted:
                one(key)
                click.echo(f"已生成 {out / output_name(key, fmt, paper, village, variant)}")
    except NotFound as exc:
        click.echo(exc.message, err=True)
        return 1
    except (RenderError, CunwuError, OSError) as exc:
        click.echo(f"生成失败：{getattr(exc, 'message', None) or exc}", err=True)
        return 1
    click.echo(f"共生成{len(written)}个文件，保存在 {out}（用时{time.perf_counter() - started:.1f}秒）。")
    return 0
