"""The power-list catalogue: discover, parse, validate and deploy BPMN definitions.

A definition is deployed by content hash (BPMN bytes + catalogue entry): an unchanged file
keeps its version, a changed one becomes version N+1, and running cases keep the version
they started with. The parsed spec of each deployed version is cached in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from lxml import etree
from marshmallow import INCLUDE, Schema, ValidationError, fields, missing, validate
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.errors import DefinitionError, NotFound
from ..domain.roles import ROLES
from ..forms.base import StrictInteger, StrictString
from ..store.models import ProcessDefinition

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "processes"
CATEGORIES = {"A": "村级公共权力", "B": "便民服务", "C": "监督举报"}
#: Retention periods (保管期限) of a closed case's file: 《村级档案管理办法》（国家档案局、民政部、农业部令
#: 第12号）第七条 and its annex (永久 and 定期 30年/10年, refined by each county); permanent by default
#: (DOMAIN.md R63). Each catalogue item states its own (``retention``).
RETENTION = {"permanent": "永久", "30y": "30年", "10y": "10年"}
RETENTION_ERROR = f"retention 只能是 {'、'.join(RETENTION)}（{'、'.join(RETENTION.values())}）"


def processes_dir() -> Path:
    return Path(os.environ.get("CUNWU_PROCESSES_DIR", DEFAULT_DIR))


@dataclass
class CatalogueItem:
    key: str
    file: str
    name: str
    category: str
    legal_basis: str = ""
    starters: list[str] = field(default_factory=list)
    notice_days: int = 7
    description: str = ""
    extra: dict = field(default_factory=dict)

    def meta(self) -> dict:
        return {
            "name": self.name, "category": self.category, "legal_basis": self.legal_basis,
            "starters": list(self.starters), "notice_days": self.notice_days,
            "description": self.description, **self.extra,
        }


MISSING = "缺少"  # the message of a required field that is absent or empty (reported together)


class Filled(StrictString):
    """Required text: absent or empty (any false value, as YAML writes nothing) is ``MISSING``."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is missing or not value:
            raise ValidationError(MISSING)
        return super().deserialize(value, attr, data, **kwargs)


class Starters(fields.Field):
    """The roles that may start an item: a list of role keys; nothing (absent, empty) is none."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is missing or not value:
            return []
        if not isinstance(value, list):
            raise ValidationError("starters 必须是角色列表")
        bad = [r for r in value if not isinstance(r, str) or r not in ROLES]
        if bad:
            raise ValidationError(f"未知角色 {', '.join(map(str, bad))}")
        return list(value)


def _text(name: str, **kw) -> StrictString:
    return StrictString(error_messages={"invalid": f"{name} 必须是文字"}, **kw)


class ItemSchema(Schema):
    """A catalogue entry. Keys the schema does not name are the item's own (``extra``: thresholds,
    evidence, settings, retention, …) and are kept as written."""

    class Meta:
        unknown = INCLUDE

    error_messages = {"type": "必须是键值对"}
    key = Filled(error_messages={"invalid": "key 必须是文字"})
    file = Filled(error_messages={"invalid": "file 必须是文字"})
    name = Filled(error_messages={"invalid": "name 必须是文字"})
    category = Filled(validate=validate.OneOf(CATEGORIES, error="category 只能是 A、B 或 C"),
                      error_messages={"invalid": "category 只能是 A、B 或 C"})
    retention = StrictString(validate=validate.OneOf(RETENTION, error=RETENTION_ERROR),
                             error_messages={"invalid": RETENTION_ERROR, "null": RETENTION_ERROR})
    starters = Starters()
    legal_basis = _text("legal_basis", load_default="", allow_none=True)
    notice_days = StrictInteger(load_default=7, error_messages={"invalid": "notice_days 必须是整数",
                                                                 "null": "notice_days 必须是整数"})
    description = _text("description", load_default="", allow_none=True)


KNOWN = ("key", "file", "name", "category", "legal_basis", "starters", "notice_days", "description")


def load_catalogue(directory: Path | None = None) -> list[CatalogueItem]:
    """Read ``catalogue.yaml`` and then every ``catalogue.d/*.yaml`` (sorted) of ``directory``; each
    entry is checked by ``ItemSchema`` and every problem is reported (``DefinitionError``)."""
    directory = directory or processes_dir()
    paths = [directory / "catalogue.yaml", *sorted((directory / "catalogue.d").glob("*.yaml"))]
    entries: list[tuple[Path, int, object]] = []
    for path in paths:
        if not path.exists():
            continue
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
            raise DefinitionError([f"{path}:{line}: 目录文件不是合法的 YAML：{exc}"]) from exc
        listed = raw.get("items") or [] if isinstance(raw, dict) else None
        if not isinstance(listed, list):
            raise DefinitionError([f"{path}:1: 目录文件顶层须为 items 列表"])
        entries.extend((path, i, e) for i, e in enumerate(listed, start=1))
    items, problems, keys = [], [], set()
    schema = ItemSchema()
    for path, index, entry in entries:
        where = f"{path}: 第{index}项"
        try:
            values, said = schema.load(entry), {}
        except ValidationError as exc:
            values, said = exc.valid_data or {}, exc.normalized_messages()
        absent = [k for k in ("key", "file", "name", "category") if said.get(k) == [MISSING]]
        if absent or "_schema" in said or "key" in said:
            problems.append(f"{where}: " + (f"缺少字段 {', '.join(absent)}" if absent
                                            else (said.get("_schema") or said["key"])[0]))
            continue
        if entry["key"] in keys:
            problems.append(f"{where}（{entry['key']}）: 事项编号重复")
            continue
        keys.add(entry["key"])
        problems += [f"{where}（{entry['key']}）: {m}" for messages in said.values() for m in messages]
        if said:
            continue
        items.append(CatalogueItem(
            key=values["key"], file=values["file"], name=values["name"], category=values["category"],
            legal_basis=values["legal_basis"], starters=values["starters"], notice_days=values["notice_days"],
            description=values["description"], extra={k: v for k, v in entry.items() if k not in KNOWN},
        ))
    if problems:
        raise DefinitionError(problems)
    return items


def _line_of(source: bytes, element_id: str | None) -> int | str:
    if not element_id:
        return 1
    try:
        root = etree.fromstring(source, _safe_parser())
    except etree.XMLSyntaxError:
        return 1
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else 1


MAX_SOURCE_BYTES = 2 * 1024 * 1024  # a real power-list item is well under 200 KB



def _safe_parser() -> etree.XMLParser:
    """No DTDs, no entities, no network: a definition file is data, never a way to read the
    server or exhaust its memory. (A new parser per call: lxml parsers are not shared across threads.)"""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


_FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "task", "callActivity", "subProcess", "transaction", "adHocSubProcess", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}
_SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _local(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _label(element) -> str:
    name = element.get("name")
    ident = element.get("id") or "?"
    return f"“{name}”（{ident}）" if name else ident


def structure_problems(tree, filename: str) -> list[str]:
    """What SpiffWorkflow's parser does not check but the engine relies on: every sequence
    flow joins two existing nodes, no bare ``bpmn:task``, every node is reachable from a start
    event and can reach an end event (no endless loop), and every condition, timer expression
    and script compiles in the restricted evaluator."""
    problems: list[str] = []
    where = f"{{{BPMN_NS}}}"
    for bare in tree.iter(f"{where}task"):
        problems.append(f"{filename}:{bare.sourceline}: 任务{_label(bare)}是无类型的 bpmn:task，"
                        "引擎会把它当作待人办理的任务；请改为 bpmn:userTask 并指定表单（form）")
    for scope in [*tree.iter(f"{where}process"), *tree.iter(f"{where}subProcess"),
                  *tree.iter(f"{where}transaction")]:
        problems.extend(_scope_problems(scope, filename))
    expressions = [(e, "条件表达式", "eval") for e in tree.iter(f"{where}conditionExpression")]
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        expressions += [(e, "定时表达式", "eval") for e in tree.iter(f"{where}{tag}")]
    expressions += [(e, "脚本", "exec") for e in tree.iter(f"{where}script")]
    expressions += [(e, "脚本", "exec") for tag in ("preScript", "postScript")
                    for e in tree.iter(f"{{{_SPIFF_NS}}}{tag}")]
    for element, kind, mode in expressions:
        source = (element.text or "").strip()
        if not source:
            continue
        error = _compile_error(source, mode)
        if error:
            problems.append(f"{filename}:{element.sourceline}: {kind}不能执行（{error}）：{source[:120]}")
    return problems


def _compile_error(source: str, mode: str) -> str | None:
    """Compile like the engine will (RestrictedPython); the reason it cannot, or None."""
    from ..process.scripting import compile_restricted_source

    try:
        compile_restricted_source(source, mode)
    except (SyntaxError, ValueError) as exc:
        message = str(getattr(exc, "msg", None) or exc)
        return message if len(message) <= 160 else message[:160] + "…"
    return None


def _scope_problems(scope, filename: str) -> list[str]:
    nodes = {}
    for child in scope:
        if _local(child) in _FLOW_NODES and child.get("id"):
            nodes[child.get("id")] = child
    problems: list[str] = []
    edges: dict[str, set[str]] = {i: set() for i in nodes}
    for flow in scope:
        if _local(flow) != "sequenceFlow":
            continue
        for attr, what in (("sourceRef", "起点"), ("targetRef", "终点")):
            ref = flow.get(attr)
            if ref not in nodes:
                problems.append(f"{filename}:{flow.sourceline}: 顺序流{_label(flow)}的{what}“{ref or ''}”"
                                "在本流程中不存在")
        if flow.get("sourceRef") in nodes and flow.get("targetRef") in nodes:
            edges[flow.get("sourceRef")].add(flow.get("targetRef"))
    links: dict[str, set[str]] = {}
    for ident, node in nodes.items():
        attached = node.get("attachedToRef")
        if _local(node) == "boundaryEvent" and attached in edges:
            edges[attached].add(ident)
        for link in node.iter(f"{{{BPMN_NS}}}linkEventDefinition"):
            links.setdefault(link.get("name") or "", set()).add(ident)
    for members in links.values():  # a link throw continues at the link catch of the same name
        throws = [m for m in members if _local(nodes[m]) == "intermediateThrowEvent"]
        catches = [m for m in members if _local(nodes[m]) == "intermediateCatchEvent"]
        for t in throws:
            edges[t].update(catches)
    if problems:
        return problems
    event_sub = {i for i, n in nodes.items() if _local(n) == "subProcess" and n.get("triggeredByEvent") == "true"}
    starts = [i for i, n in nodes.items() if _local(n) == "startEvent"]
    ends = {i for i, n in nodes.items() if _local(n) == "endEvent"}
    if not starts:
        return []  # Spiff reports a process without a start event itself
    reached = _closure(starts, edges)
    reverse: dict[str, set[str]] = {i: set() for i in nodes}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].add(source)
    finishing = _closure(ends, reverse)
    for ident, node in nodes.items():
        if ident in event_sub:
            continue
        if ident not in reached:
            problems.append(f"{filename}:{node.sourceline}: {_label(node)}无法从开始事件到达")
        elif ident not in finishing:
            problems.append(f"{filename}:{node.sourceline}: 从{_label(node)}出发永远到不了结束事件"
                            "（死循环或缺少结束事件）")
    return problems


def _closure(seeds, edges: dict[str, set[str]]) -> set[str]:
    seen = set(seeds)
    todo = list(seeds)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def parse_source(source: bytes, filename: str, process_key: str | None = None):
    """Parse one BPMN document; return ``(spec, subprocess_specs)`` or raise ``DefinitionError``
    with ``FILE:LINE: message`` problems (malformed XML, XSD and semantic errors alike)."""
    if len(source) > MAX_SOURCE_BYTES:
        raise DefinitionError([f"{filename}:1: 文件过大（{len(source) / 1048576:.1f} MB），"
                               f"BPMN 文件不得超过 {MAX_SOURCE_BYTES // 1048576} MB"])
    try:
        tree = etree.fromstring(source, _safe_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        raise DefinitionError([f"{filename}:{line}: XML 格式错误：{exc.msg}"]) from exc
    if tree is None:
        raise DefinitionError([f"{filename}:1: XML 格式错误：文件为空"])
    docinfo = tree.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise DefinitionError([f"{filename}:1: 不允许 DOCTYPE 声明（其中的实体可被用来读取服务器文件或耗尽内存）"])
    if tree.tag != f"{{{BPMN_NS}}}definitions":
        raise DefinitionError([f"{filename}:{tree.sourceline}: 根元素必须是 bpmn:definitions（BPMN 2.0）"])
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(etree.ElementTree(tree), filename=filename)
        ids = parser.get_process_ids()
        if not ids:
            raise DefinitionError([f"{filename}:{tree.sourceline}: 文件中没有可执行的流程（isExecutable=\"true\"）"])
        structure = structure_problems(tree, filename)
        if structure:
            raise DefinitionError(structure)
        key = process_key or ids[0]
        if key not in ids:
            raise DefinitionError([f"{filename}:{tree.sourceline}: 找不到流程“{key}”，文件中的流程：{', '.join(ids)}"])
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        line = exc.line_number or _line_of(source, exc.id)
        message = str(exc).split(". ")[0] if exc.line_number else str(exc)
        where = f"（元素 {exc.id}）" if exc.id else ""
        raise DefinitionError([f"{filename}:{line}: {message}{where}"]) from exc
    except DefinitionError:
        raise
    except (SpiffWorkflowException, KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise DefinitionError([f"{filename}:1: 无法解析流程：{exc}"]) from exc
    return spec, subprocess_specs


def content_hash(source: bytes, meta: dict) -> str:
    digest = hashlib.sha256(source)
    digest.update(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


@dataclass
class Deployed:
    """A deployed definition with its parsed spec (shared by every case of that version)."""

    id: int
    key: str
    version: int
    name: str
    category: str
    meta: dict
    spec: object
    subprocess_specs: dict


class Catalog:
    def __init__(self, directory: Path | None = None):
        self.directory = directory or processes_dir()
        self._cache: dict[int, Deployed] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Forget the parsed versions (after a restore, row ids may name other definitions)."""
        self._cache.clear()

    # -- deployment ---------------------------------------------------------------------
    def deploy_all(self, session: Session, now) -> list[tuple[str, int, bool]]:
        """Deploy every catalogue item; return ``(key, version, is_new)`` per item."""
        from ..process.runtime import serialize_spec

        results, problems = [], []
        items = load_catalogue(self.directory)
        for item in items:
            path = self.directory / item.file
            try:
                source = path.read_bytes()
            except OSError as exc:
                problems.append(f"{path}:0: 无法读取：{exc.strerror}")
                continue
            try:
                spec, subs = parse_source(source, str(path), item.key)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                continue
            meta = item.meta()
            digest = content_hash(source, meta)
            existing = session.scalar(select(ProcessDefinition).where(
                ProcessDefinition.key == item.key, ProcessDefinition.content_hash == digest))
            if existing:
                results.append((item.key, existing.version, False))
                continue
            latest = session.scalar(select(func.max(ProcessDefinition.version)).where(
                ProcessDefinition.key == item.key)) or 0
            row = ProcessDefinition(
                key=item.key, version=latest + 1, content_hash=digest, name=item.name,
                category=item.category, meta=meta, source=source.decode("utf-8"),
                spec_json=serialize_spec(spec, subs), deployed_at=now,
            )
            session.add(row)
            session.flush()
            results.append((item.key, row.version, True))
        if problems:
            raise DefinitionError(problems)
        return results

    # -- lookup -------------------------------------------------------------------------
    def latest_rows(self, session: Session) -> list[ProcessDefinition]:
        newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
                  .group_by(ProcessDefinition.key).subquery())
        stmt = (select(ProcessDefinition)
                .join(newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v))
                .order_by(ProcessDefinition.category, ProcessDefinition.key))
        return list(session.scalars(stmt))

    def latest_row(self, session: Session, key: str) -> ProcessDefinition:
        row = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key)
                             .order_by(ProcessDefinition.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"没有名为“{key}”的事项流程")
        return row

    def deployed(self, row: ProcessDefinition) -> Deployed:
        hit = self._cache.get(row.id)
        if hit is not None:
            return hit
        from ..process.runtime import restore_spec

        spec, subs = restore_spec(row.spec_json)
        item = Deployed(row.id, row.key, row.version, row.name, row.category, dict(row.meta), spec, subs)
        with self._lock:
            self._cache.setdefault(row.id, item)
        return self._cache[row.id]


def validate_files(paths: list[Path]) -> list[str]:
    """Parse each BPMN file; return the problems as ``FILE:LINE: message`` lines."""
    problems: list[str] = []
    for path in paths:
        try:
            source = Path(path).read_bytes()
        except OSError as exc:
            problems.append(f"{path}:0: 无法读取：{exc.strerror}")
            continue
        try:
            parse_source(source, str(path))
        except DefinitionError as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # noqa: BLE001 - a hostile file must never end in a traceback
            problems.append(f"{path}:1: 无法解析流程：{type(exc).__name__}：{exc}")
    return problems
