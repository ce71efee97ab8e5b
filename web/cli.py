"""The ``cunwu`` command line: Flask CLI commands of the app (see CONTRACT.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine.catalogue.catalog import validate_files
from engine.domain.errors import CunwuError, DefinitionError
from engine.store import db

DEMO_FILE = Path(__file__).parent / "demo" / "demo.yaml"


def _engine():
    return current_app.extensions["cunwu"]


def init_db() -> list[tuple[str, int, bool]]:
    db.upgrade(current_app.extensions["cunwu_db"])
    return _engine().deploy()


def import_file(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CunwuError(f"无法读取 {path}：{exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CunwuError(f"{path} 不是 UTF-8 编码的文本文件") from exc
    return _engine().import_directory(None, text, str(path))


@click.command("init-db")
@with_appcontext
def init_db_command():
    """建立或升级数据库，并部署 processes/ 中的全部流程。"""
    try:
        results = init_db()
    except DefinitionError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    for key, version, is_new in results:
        click.echo(f"{key}\tv{version}\t{'新部署' if is_new else '未变'}")
    click.echo("数据库已就绪。")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def import_command(file: Path):
    """从 YAML 文件导入村和人员（可重复执行）。"""
    try:
        stats = import_file(file)
    except CunwuError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        for items in (exc.fields or {}).values():
            for item in items if isinstance(items, list) else [items]:
                click.echo(f"  - {item}", err=True)
        sys.exit(1)
    click.echo("导入完成：新建村{villages_created}个，更新村{villages_updated}个，"
               "新建人员{people_created}人，更新人员{people_updated}人。".format(**stats))


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="清空演示数据（数据库、演示时钟、附件）后重新生成")
@with_appcontext
def demo_command(host: str, port: int, reset: bool):
    """初始化数据库，导入示范村，并在本机启动服务。"""
    from .demo_clock import install

    if reset:
        reset_demo()

    install(current_app)  # the demo's clock can be moved forward (POST /api/v1/demo/clock)
    init_db()
    stats = import_file(DEMO_FILE)
    from .demo_seed import seed

    seeded = seed(_engine())
    if seeded:
        click.echo(f"已为示范村生成{seeded}个演示事项。")
    click.echo(f"示范村已导入（{stats}）。请用浏览器打开 http://{host}:{port}/ ，演示账号见 README。")
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


def reset_demo() -> None:
    """Start the demo afresh: a visitor who moved the clock leaves nothing for the next one."""
    import shutil

    url = current_app.config["DATABASE_URL"]
    instance = Path(current_app.instance_path)
    if not url.startswith("sqlite:///") or Path(url[len("sqlite:///"):]).parent != instance:
        click.echo("--reset 只清空实例目录中的演示数据库；当前数据库不在实例目录，未作改动。", err=True)
        sys.exit(1)
    current_app.extensions["cunwu_db"].dispose()
    database = Path(url[len("sqlite:///"):])
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm"),
                 instance / "demo-clock.json"):
        path.unlink(missing_ok=True)
    shutil.rmtree(instance / "attachments", ignore_errors=True)
    click.echo("演示数据已清空，重新生成示范村。")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dry-run", is_flag=True, help="只检查配置、显示密钥位置，不启动服务")
def serve_command(host: str, port: int, workers: int, dry_run: bool):
    """用 gunicorn 启动生产服务（多进程）。"""
    import os
    import shutil

    from . import create_app
    from .security import ensure_secret_key

    key_file = ensure_secret_key(create_app())  # made now, so every worker reads the same key
    if key_file is None:
        click.echo("会话密钥：取自 CUNWU_SECRET_KEY。")
    else:
        click.echo(f"会话密钥：{key_file}（首次启动时随机生成；请妥善保管，不要复制到别处或提交到代码库；"
                   "删除后重启会生成新密钥，所有人需重新登录）")
    if dry_run:
        return

    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    args = [gunicorn, "--no-control-socket", "-w", str(workers), "-b", f"{host}:{port}",
            "--access-logfile", "-", "web.wsgi:app"]
    os.execv(gunicorn, args)


@click.group("processes")
def processes_group():
    """事项清单（流程定义）。"""


@processes_group.command("list")
@with_appcontext
def processes_list():
    """列出已部署的事项：编号、名称、类别、版本。"""
    for p in _engine().processes():
        click.echo(f"{p['key']}\t{p['name']}\t{p['category']}（{p['category_name']}）\tv{p['version']}")


@processes_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def processes_validate(files):
    """解析并检查 BPMN 文件；有问题时逐条输出 FILE:LINE: message。"""
    problems = validate_files(list(files))
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    click.echo(f"{len(files)} 个文件均有效。")


@processes_group.command("check")
@with_appcontext
def processes_check():
    """对全部已部署流程做合规检查（四议、监督审核、公示期等）。"""
    try:
        from engine.catalogue.compliance import check_deployed
    except ImportError:  # pragma: no cover - until the checker lands
        click.echo("合规检查尚未提供。", err=True)
        sys.exit(1)
    problems = check_deployed(_engine())
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    click.echo("全部流程通过合规检查。")


@click.command("render")
@click.argument("keys", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="全部事项")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf"]), default="pdf", show_default=True)
@click.option("--paper", type=click.Choice(["A4", "A3"]), default="A3", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("posters"), show_default=True)
@click.option("--village", default=None, help="村编号：海报写上本村名称和人员，二维码指向本村公开栏")
@click.option("--variant", type=click.Choice(["full", "villager"]), default="full", show_default=True,
              help="full：完整流程图海报；villager：村民版（大字，只列公示、异议、反映问题）")
@with_appcontext
def render_command(keys, all_, fmt, paper, out, village, variant):
    """生成流程图海报。"""
    import os

    from diagrams.cli import render_posters

    if not (current_app.config.get("CUNWU_PUBLIC_URL") or os.environ.get("CUNWU_PUBLIC_URL")):
        from diagrams.service import DEFAULT_PUBLIC_URL

        click.echo(f"注意：未设置 CUNWU_PUBLIC_URL，海报上的二维码指向 {DEFAULT_PUBLIC_URL}（本机），村民扫码打不开；"
                   "张贴前请设置为本县公开访问的网址后重新生成。", err=True)
    sys.exit(render_posters(current_app.extensions["cunwu_diagrams"], keys, all_, fmt, paper, out, village=village, variant=variant))


@click.group("timers")
def timers_group():
    """定时事件（公示期、期限）。"""


@timers_group.command("run")
@with_appcontext
def timers_run():
    """按时钟触发所有已到期的定时事件（一次）。"""
    fired = _engine().run_timers()
    click.echo(f"已处理 {fired} 个到期事项。")


@click.command("worker")
@click.option("--interval", default=30.0, show_default=True, help="两次扫描之间的秒数")
@click.option("--once", is_flag=True, help="只扫描一次")
@with_appcontext
def worker_command(interval: float, once: bool):
    """持续触发到期的定时事件，并发送通知（邮件、短信、群机器人）。"""
    from sqlalchemy.exc import SQLAlchemyError

    channels = notice_channels()
    while True:
        try:
            fired = _engine().run_timers()
            sent = _engine().deliver_notices(channels)
        except (CunwuError, SQLAlchemyError) as exc:  # the database is away or busy: try again later
            click.echo(f"本轮定时扫描失败：{getattr(exc, 'message', exc)}", err=True)
            if once:
                sys.exit(1)
        else:
            if fired:
                click.echo(f"已处理 {fired} 个到期事项。")
            if sent["sent"] or sent["failed"] or sent["dead"]:
                click.echo(f"通知：发出 {sent['sent']} 条，待重试 {sent['failed']} 条，放弃 {sent['dead']} 条。")
        if once:
            return
        time.sleep(interval)


def notice_channels():
    """The delivery channels: the CUNWU_* settings of the environment, or of the app's config."""
    import os

    from engine.records.delivery import Channels

    settings = {**os.environ, **{k: v for k, v in current_app.config.items()
                                 if k.startswith("CUNWU_") and isinstance(v, str)}}
    return Channels.from_env(settings)


@click.group("board")
def board_group():
    """村务公开栏。"""


@board_group.command("verify")
@click.option("--village", "village", default=None, help="村编码；不填则校验所有村")
@with_appcontext
def board_verify(village: str | None):
    """校验公开栏哈希链：完好返回0，否则指出第一条被改动的条目并返回1。"""
    try:
        results = [(village, _engine().verify_board(village))] if village else _engine().verify_all_boards()
    except CunwuError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    bad = False
    for code, result in results:
        if result["ok"]:
            click.echo(f"{code}\t完好\t{result['entries']}条\t{result['head']}")
        else:
            bad = True
            b = result["broken"]
            click.echo(f"{code}\t已被改动\t第{b['seq']}条（编号{b['id']}）：{b['reason']}")
    sys.exit(1 if bad else 0)


@click.command("doctor")
@with_appcontext
def doctor_command():
    """核对每个事项的流程状态、任务表、审计记录和公开栏是否一致，重新计算附件文件的哈希，并校验公开栏哈希链。"""
    from engine.services.doctor import check

    report = check(_engine())
    for problem in report.problems:
        click.echo(problem)
    if report.problems:
        click.echo(f"发现{len(report.problems)}处不一致（共检查{report.cases}个事项、{report.villages}个村的公开栏、"
                   f"{report.files}个附件文件）。")
        sys.exit(1)
    click.echo(f"一致：共检查{report.cases}个事项、{report.villages}个村的公开栏、{report.files}个附件文件，未发现问题。")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "sqlite", "pg", "json"]), default="auto",
              show_default=True, help="auto：SQLite 用在线备份，PostgreSQL 用 pg_dump（没有时用 JSON）")
@with_appcontext
def backup_command(file: Path, fmt: str):
    """把整个数据库备份到文件。"""
    from engine.services.backup import BackupError, backup

    try:
        info = backup(current_app.extensions["cunwu_db"], file, fmt, store=_engine().files)
    except BackupError as exc:
        click.echo(f"备份失败：{exc}", err=True)
        sys.exit(1)
    files = f"，附件文件{info['files']}个" if info.get("files") else ""
    click.echo(f"已备份到 {file}（{info['format']}，{info['bytes']}字节{files}）。")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再确认，直接用备份替换当前数据库")
@with_appcontext
def restore_command(file: Path, yes: bool):
    """用备份文件替换当前数据库的全部内容。"""
    from engine.services.backup import BackupError, restore

    if not yes:
        click.confirm("当前数据库的全部内容将被备份文件替换，确定吗？", abort=True)
    try:
        info = restore(current_app.extensions["cunwu_db"], file, store=_engine().files)
    except BackupError as exc:
        click.echo(f"恢复失败：{exc}", err=True)
        sys.exit(1)
    _engine().catalog.forget()  # deployed versions are looked up by row id: forget the old ones
    files = f"，附件文件{info['files']}个" if info.get("files") else ""
    click.echo(f"已从 {file} 恢复（{info['format']}{files}）。建议接着运行 cunwu doctor 和 cunwu board verify。")


@click.group("holidays")
def holidays_group():
    """国务院节假日安排（工作日计算用）。"""


@holidays_group.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def holidays_load_command(file: Path):
    """载入一年的节假日安排（YAML：year、holidays、workdays），替换该年已载入的安排。"""
    import yaml

    try:
        raw = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        year, days = _engine().load_holidays(raw)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"已载入{year}年节假日安排：{days}天")


@holidays_group.command("list")
@with_appcontext
def holidays_list_command():
    """列出可用的节假日安排年份。"""
    years = _engine().holiday_years()
    if years["library"]:
        click.echo(f"chinesecalendar：{years['library'][0]}–{years['library'][1]}年")
    click.echo("已载入：" + ("、".join(f"{y}年" for y in years["loaded"]) or "无"))


COMMANDS = [init_db_command, import_command, demo_command, serve_command, processes_group, render_command,
            timers_group, worker_command, board_group, doctor_command, backup_command, restore_command,
            holidays_group]


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app():
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main():
    """阳光村务（cunwu）命令行。"""
