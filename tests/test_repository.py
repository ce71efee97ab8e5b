"""The checkout itself: no merge leftovers in any tracked text file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^(<{7} |={7}$|>{7} )", re.M)


def test_no_conflict_markers_in_tracked_files():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".py", ".html", ".css", ".js", ".md", ".yaml", ".yml", ".toml", ".cfg", ".bpmn",
                               ".sh", ".txt", ".json"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if MARKER.search(text):
            found.append(name)
    assert not found, f"merge conflict markers left in: {found}"


def _engine_imports() -> dict[str, set[str]]:
    """Module → the engine modules it imports, counting imports inside functions too (a cycle closed
    by an import in a function is still a cycle), plus the outside packages it reaches for. Modules
    of subpackages are named with dots (``forms.base``); a package is its ``__init__`` (``forms``)."""
    import ast

    engine = ROOT / "engine"
    paths = {}
    for path in engine.rglob("*.py"):
        parts = path.relative_to(engine).with_suffix("").parts
        if "migrations" in parts:
            continue
        paths[".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)] = path
    paths.pop("", None)  # engine/__init__.py

    def known(dotted: list[str]) -> str | None:  # the longest prefix that is an engine module
        for n in range(len(dotted), 0, -1):
            if ".".join(dotted[:n]) in paths:
                return ".".join(dotted[:n])
        return None

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[list[str]] = []
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                stem = base + (node.module.split(".") if node.module else [])
                targets = [stem + [a.name] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "engine":
                    targets = [parts[1:] + [a.name] for a in node.names]
                elif parts[0] in ("web", "diagrams"):
                    deps.add(parts[0])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "engine" and len(parts) > 1:
                        targets.append(parts[1:])
                    elif parts[0] in ("web", "diagrams"):
                        deps.add(parts[0])
            for target in targets:
                if (module := known(target)) is not None:
                    deps.add(module)
        graph[name] = {d for d in deps if d != name}
    return graph


def test_the_engine_imports_nothing_from_web_or_diagrams():
    graph = _engine_imports()
    assert {m: sorted(d & {"web", "diagrams"}) for m, d in graph.items() if d & {"web", "diagrams"}} == {}


def test_the_engine_import_graph_has_no_cycle():
    """Issue 16: no import cycle among the engine's modules, not even one closed inside a function."""
    graph = {m: d - {"web", "diagrams"} for m, d in _engine_imports().items()}
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, " → ".join(cycle)


#: The engine's subpackages, lowest first: a module imports only from its own subpackage or from one
#: listed before it (docs/DEVELOPING.md draws this). Imports under ``if TYPE_CHECKING:`` are annotations
#: only and do not count.
LAYERS = ("domain", "store", "process", "records", "forms", "catalogue", "services")


def test_every_engine_module_lives_in_a_layer():
    engine = ROOT / "engine"
    loose = sorted(p.name for p in engine.glob("*.py") if p.name != "__init__.py")
    packages = sorted(p.name for p in engine.iterdir() if (p / "__init__.py").exists())
    assert loose == [] and packages == sorted(LAYERS)


def _runtime_imports(path: Path, package: list[str]) -> set[str]:
    """The engine subpackages a module imports at run time (inside functions too)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for stmt in node.body for n in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        modules = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                stem = ".".join(["engine", *base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            modules = [f"{stem}.{a.name}" for a in node.names] if stem == "engine" else [stem]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "engine" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_engine_layers_import_only_downwards():
    """Issue 16: domain ← store ← process ← records ← forms ← catalogue ← services; nothing imports a
    subpackage above its own."""
    engine = ROOT / "engine"
    upward = []
    for path in sorted(engine.rglob("*.py")):
        rel = path.relative_to(engine).with_suffix("").parts
        if "migrations" in rel or len(rel) < 2:
            continue
        layer = rel[0]
        package = list(rel[:-1])
        for other in _runtime_imports(path, package):
            if LAYERS.index(other) > LAYERS.index(layer):
                upward.append(f"{'/'.join(rel)}.py ({layer}) → {other}")
    assert upward == []


def _private_uses(path: Path) -> list[str]:
    """Our own private (underscore) names this module takes from another module: imported by name,
    read off an imported module of ours, or — in the Engine's mixins — a ``self._x`` defined in
    another mixin."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    ours: set[str] = set()  # local names bound to modules of engine, web or diagrams
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            own = node.level > 0 or (node.module or "").split(".")[0] in ("engine", "web", "diagrams")
            for alias in node.names:
                if own and alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"imports {alias.name}")
                if own:
                    ours.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("engine", "web", "diagrams"):
                    ours.add(alias.asname or alias.name.split(".")[0])
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    defined |= {t.attr for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Attribute)}
    defined |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    mixin = path.parent.name == "services"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ours:
            found.append(f"{node.value.id}.{node.attr}")
        elif mixin and isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr not in defined:
            found.append(f"self.{node.attr}")
    return [f"{path.relative_to(ROOT)}:{use}" for use in found]


def test_no_private_name_is_used_across_modules():
    """Issue 16: a module's underscore names are its own (the Engine's mixins included)."""
    uses = []
    for folder in ("engine", "diagrams", "web"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                uses += _private_uses(path)
    assert uses == []


def test_web_and_diagrams_reach_the_record_only_through_the_engine():
    """Issue 16: pages, the API and the charts ask ``Engine``; only the app factory (which builds the
    database), the CLI's migrate/backup commands and the demo seeder touch ``engine.store``."""
    import ast

    allowed = {"web/__init__.py", "web/cli.py", "web/demo_seed.py"}
    found = []
    for folder in ("web", "diagrams"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            typing_only = {id(n) for node in ast.walk(tree)
                           if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                           for stmt in node.body for n in ast.walk(stmt)}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and id(node) not in typing_only \
                        and (node.module or "").startswith("engine.store") and name not in allowed:
                    found.append(f"{name}:{node.lineno}")
    assert found == []


def test_no_module_is_over_600_lines():
    """Issue 16: engine/, web/ and diagrams/ stay in modules of at most 600 lines, each holding one
    concern (the migrations excepted: one file per revision, written once)."""
    long = [f"{path.relative_to(ROOT)}: {lines}" for folder in ("engine", "web", "diagrams")
            for path in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in path.parts
            if (lines := path.read_text(encoding="utf-8").count("\n")) > 600]
    assert long == []


def test_the_diagrams_package_knows_no_flask():
    """Issue 16: ``diagrams/`` is given what it needs (the engine, the public URL, the service) by the
    web layer; it imports nothing of Flask or Werkzeug, not even inside a function."""
    import ast

    found = []
    for path in sorted((ROOT / "diagrams").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                      if n.split(".")[0] in ("flask", "werkzeug", "web")]
    assert found == []
